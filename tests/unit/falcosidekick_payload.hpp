// SPDX-License-Identifier: Apache-2.0
// What falcosidekick does with a POST body (handlers.go newFalcoPayload,
// types.FalcoPayload and its Check()), so that a test can say "falcosidekick
// would take this" without falcosidekick (it is no Debian package):
// - encoding/json into the struct: output, rule, source, hostname, uuid are
//   strings; priority a string naming a priority; time a string time.Time
//   parses (RFC 3339); output_fields an object; tags an array of strings;
//   a value of another type fails the whole decode;
// - Check(): a priority, a rule, a non-zero time and output_fields not empty;
// - k8s.ns.name and k8s.pod.name, when not null, are asserted to be strings.
#pragma once

#include <regex>
#include <string>

#include <nlohmann/json.hpp>

namespace fnw::test {

// "" when accepted, else why not.
inline std::string falcosidekick_rejects(const nlohmann::json& body) {
    if (!body.is_object()) return "body is not one JSON object";
    for (const char* key : {"output", "rule", "source", "hostname", "uuid", "priority", "time"})
        if (body.contains(key) && !body[key].is_string() && !body[key].is_null())
            return std::string(key) + " is not a string";
    if (body.contains("output_fields") && !body["output_fields"].is_object() && !body["output_fields"].is_null())
        return "output_fields is not an object";
    if (body.contains("tags")) {
        if (!body["tags"].is_array() && !body["tags"].is_null()) return "tags is not an array";
        for (const auto& tag : body.value("tags", nlohmann::json::array()))
            if (!tag.is_string()) return "a tag is not a string";
    }
    static const std::regex rfc3339(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$)");
    const std::string time = body.value("time", "");
    if (!std::regex_match(time, rfc3339)) return "time is not RFC 3339: " + time;
    static const std::regex priority("^(?:[Ee]mergency|[Aa]lert|[Cc]ritical|[Ee]rror|[Ww]arning|[Nn]otice|"
                                     "[Ii]nformational|[Ii]nfo|[Dd]ebug)$");
    if (!std::regex_match(body.value("priority", ""), priority)) return "unknown priority";
    if (body.value("rule", "").empty()) return "no rule";
    if (!body.contains("output_fields") || body["output_fields"].empty()) return "no output_fields";
    for (const char* key : {"k8s.ns.name", "k8s.pod.name"})
        if (body["output_fields"].contains(key) && !body["output_fields"][key].is_string() &&
            !body["output_fields"][key].is_null())
            return std::string(key) + " is not a string";
    return "";
}

}  // namespace fnw::test
