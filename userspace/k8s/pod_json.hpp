// SPDX-License-Identifier: Apache-2.0
// Reading the API server's JSON: pod objects, Status bodies, metadata. Kept
// apart from the transfers so the parsing reads (and is tested) on its own.
// Nothing here throws on a wrong shape: a missing or mistyped member reads
// as absent, and the caller decides whether that is malformed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "k8s/pod_watcher.hpp"

namespace fnw::pod_json {

using Json = nlohmann::json;

std::string_view trim(std::string_view text);

// At most max_chars of `text` with control and non-ASCII bytes blanked: a
// server's text goes into logs and status, where it must not forge lines.
std::string printable(std::string_view text, size_t max_chars = 200);

// nullptr when `object` is not an object or has no `key`.
const Json* member(const Json& object, const char* key);
// "" when absent or not a string.
std::string string_member(const Json& object, const char* key);
// metadata.resourceVersion, "" when absent.
std::string resource_version_of(const Json& object);

// nullopt when the object has no metadata.uid: nothing could find it again.
std::optional<PodInfo> pod_from_json(const Json& pod, const FunctionLabelKeys& function_labels);

// The message of a Status object (the body of every API error), else the
// start of whatever the body is (a proxy's HTML page, say).
std::string status_message(std::string_view body);

}  // namespace fnw::pod_json
