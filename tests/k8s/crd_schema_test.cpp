// SPDX-License-Identifier: Apache-2.0
// The FunctionPolicy CRD's schema (deploy/kubernetes/functionpolicy-crd.yaml)
// against the policy parser (core/policy_parser.cpp): the same keys in every
// mapping, the same values for every enum, and every example policy accepted
// by the parser. The parser is asked, not read: a mapping holding an unknown
// key makes it list the keys it takes ("expected one of: ..."), and a bad
// enum value makes it list the values. So a key added to either side alone
// fails here, without a third copy of the key lists to keep in step.
//
// The manifests' other cross-file facts are checked here too, since this
// test needs neither kubectl nor node: the base's baseline.yaml is
// rules/baseline.yaml, and the daemon configs the manifests ship are valid.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "core/policy_parser.hpp"
#include "daemon/daemon_config.hpp"

namespace fnw {
namespace {

const std::filesystem::path kSource = FNW_SOURCE_DIR;
constexpr const char* kProbe = "zzzzzzzzzzzz";  // far from every key: no "did you mean"

using Path = std::vector<std::string>;  // "[]" = an item of an array

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string dotted(const Path& path) {
    std::string out;
    for (const auto& segment : path) out += (segment == "[]" || out.empty() ? "" : ".") + segment;
    return out.empty() ? "(root)" : out;
}

YAML::Node crd_schema() {
    const YAML::Node crd = YAML::LoadFile((kSource / "deploy/kubernetes/functionpolicy-crd.yaml").string());
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

// Keys the API server owns, not the policy: the parser never sees them.
bool api_only(const Path& path) { return path == Path{"status"} || path == Path{"metadata"}; }

// Every schema node below `schema` with `properties` (a mapping the parser
// also checks key by key), and every item left open (no properties).
void collect(const YAML::Node& schema, const Path& path, std::vector<Path>& mappings, std::vector<Path>& open) {
    if (api_only(path)) return;
    if (const YAML::Node props = schema["properties"]) {
        mappings.push_back(path);
        for (const auto& kv : props) {
            Path child = path;
            child.push_back(kv.first.as<std::string>());
            collect(kv.second, child, mappings, open);
        }
    } else if (schema["x-kubernetes-preserve-unknown-fields"]) {
        open.push_back(path);
    }
    if (const YAML::Node items = schema["items"]) {
        Path child = path;
        child.push_back("[]");
        collect(items, child, mappings, open);
    }
}

// yaml-cpp: operator[] on a const node never inserts, and assigning to a
// Node writes through to the node it refers to; reset() rebinds instead.
YAML::Node child_of(const YAML::Node& schema, const std::string& segment) {
    return segment == "[]" ? schema["items"] : schema["properties"][segment];
}

YAML::Node schema_at(const YAML::Node& root, const Path& path) {
    YAML::Node schema;
    schema.reset(root);
    for (const auto& segment : path) schema.reset(child_of(schema, segment));
    return schema;
}

// A value the parser takes for a required key, so that a probe gets past it.
YAML::Node sample(const std::string& key, const YAML::Node& schema);

// A mapping with the schema's required keys filled in.
YAML::Node required_filled(const YAML::Node& schema, const std::string& except = "") {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& required : schema["required"]) {
        const std::string key = required.as<std::string>();
        if (key != except) map[key] = sample(key, schema["properties"][key]);
    }
    return map;
}

YAML::Node sample(const std::string& key, const YAML::Node& schema) {
    if (key == "selector") return YAML::Load("{function: probe}");
    if (key == "cidr") return YAML::Node("10.0.0.0/8");
    const std::string type = schema["type"].as<std::string>();
    if (type == "integer") return YAML::Node(1);
    if (type == "array") return YAML::Node(YAML::NodeType::Sequence);
    if (type == "object") return required_filled(schema);
    return YAML::Node("x");
}

// The smallest policy that holds `target` at `path`.
YAML::Node document_with(const YAML::Node& root, const Path& path, const YAML::Node& target) {
    std::vector<YAML::Node> levels{root};
    for (const auto& segment : path) levels.push_back(child_of(levels.back(), segment));
    YAML::Node node = YAML::Clone(target);
    for (size_t i = path.size(); i-- > 0;) {
        if (path[i] == "[]") {
            YAML::Node seq(YAML::NodeType::Sequence);
            seq.push_back(node);
            node.reset(seq);
        } else {
            YAML::Node map = required_filled(levels[i], path[i]);
            map[path[i]] = node;
            node.reset(map);
        }
    }
    YAML::Node metadata;
    metadata["name"] = "probe";
    node["apiVersion"] = "fnwarden.io/v1";
    node["kind"] = "FunctionPolicy";
    node["metadata"] = metadata;
    if (!node["spec"]) node["spec"] = required_filled(root["properties"]["spec"]);
    return node;
}

std::vector<PolicyError> parse_errors(const YAML::Node& doc) {
    YAML::Emitter out;
    out << doc;
    return parse_policy(out.c_str(), "probe.yaml").errors;
}

// What the parser lists after "expected one of:" for a mapping at `path`.
std::set<std::string> parser_keys(const YAML::Node& root, const Path& path) {
    YAML::Node target = required_filled(schema_at(root, path));
    target[kProbe] = 1;
    const YAML::Node doc = document_with(root, path, target);
    const std::regex listed(std::string("unknown key \"") + kProbe + "\" in .*\\(expected one of: ([^)]*)\\)");
    for (const auto& e : parse_errors(doc)) {
        std::smatch m;
        if (!std::regex_search(e.message, m, listed)) continue;
        std::set<std::string> keys;
        std::istringstream words(m[1].str());
        for (std::string k; words >> k;) keys.insert(k);
        return keys;
    }
    ADD_FAILURE() << dotted(path) << ": the parser did not list its keys for an unknown one";
    return {};
}

std::set<std::string> schema_keys(const YAML::Node& schema) {
    std::set<std::string> keys;
    for (const auto& kv : schema["properties"]) keys.insert(kv.first.as<std::string>());
    return keys;
}

TEST(CrdSchemaTest, EveryMappingHasTheParsersKeys) {
    const YAML::Node root = crd_schema();
    ASSERT_TRUE(root["properties"]["spec"]) << "no openAPIV3Schema with a spec";
    std::vector<Path> mappings, open;
    collect(root, {}, mappings, open);
    // Root, spec, selector, pod, syscalls, network, egress[], listen[],
    // files, exec, process: a walk that found fewer lost its way.
    ASSERT_GE(mappings.size(), 11u);
    for (const auto& path : mappings) {
        std::set<std::string> expected = schema_keys(schema_at(root, path));
        if (path.empty())
            for (const char* key : {"status"}) expected.erase(key);  // the API server's
        EXPECT_EQ(parser_keys(root, path), expected) << "keys of " << dotted(path);
    }
}

// exec.allow items are strings or {path, sha256}: a structural schema cannot
// type that, so the item is open and its description names the keys.
TEST(CrdSchemaTest, OpenItemsNameTheParsersKeys) {
    const YAML::Node root = crd_schema();
    std::vector<Path> mappings, open;
    collect(root, {}, mappings, open);
    ASSERT_EQ(open, (std::vector<Path>{{"spec", "exec", "allow", "[]"}}));
    const std::string description = schema_at(root, open[0])["description"].as<std::string>("");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(description, m, std::regex("\\{([a-zA-Z0-9, ]+)\\}"))) << description;
    std::set<std::string> described;
    std::istringstream words(std::regex_replace(m[1].str(), std::regex(","), " "));
    for (std::string k; words >> k;) described.insert(k);
    YAML::Node target(YAML::NodeType::Map);
    target[kProbe] = 1;
    const YAML::Node doc = document_with(root, open[0], target);
    const std::regex listed(std::string("unknown key \"") + kProbe + "\" in .*\\(expected one of: ([^)]*)\\)");
    std::set<std::string> parsed;
    for (const auto& e : parse_errors(doc)) {
        std::smatch k;
        if (!std::regex_search(e.message, k, listed)) continue;
        std::istringstream keys(k[1].str());
        for (std::string key; keys >> key;) parsed.insert(key);
    }
    EXPECT_EQ(parsed, described);
}

void collect_enums(const YAML::Node& schema, const Path& path, std::vector<Path>& out) {
    if (api_only(path)) return;
    if (schema["enum"]) out.push_back(path);
    for (const auto& kv : schema["properties"]) {
        Path child = path;
        child.push_back(kv.first.as<std::string>());
        collect_enums(kv.second, child, out);
    }
    if (schema["items"]) {
        Path child = path;
        child.push_back("[]");
        collect_enums(schema["items"], child, out);
    }
}

// A value outside the enum makes the parser say which it takes: the same.
TEST(CrdSchemaTest, EveryEnumHasTheParsersValues) {
    const YAML::Node root = crd_schema();
    std::vector<Path> enums;
    collect_enums(root, {}, enums);
    ASSERT_GE(enums.size(), 8u);  // mode, protocol x2, onViolation x5
    for (const auto& path : enums) {
        std::set<std::string> expected;
        for (const auto& v : schema_at(root, path)["enum"]) expected.insert(v.as<std::string>());
        for (const auto& value : expected) {
            const auto errors = parse_errors(document_with(root, path, YAML::Node(value)));
            EXPECT_TRUE(errors.empty()) << dotted(path) << ": " << value << ": " << errors.front().to_string();
        }
        std::set<std::string> parsed;
        for (const auto& e : parse_errors(document_with(root, path, YAML::Node(kProbe)))) {
            if (e.message.find(kProbe) == std::string::npos) continue;
            const std::regex quoted("\"([^\"]*)\"");
            for (std::sregex_iterator it(e.message.begin(), e.message.end(), quoted), end; it != end; ++it)
                if ((*it)[1] != kProbe) parsed.insert((*it)[1]);
        }
        EXPECT_EQ(parsed, expected) << "values of " << dotted(path);
    }
}

// The FunctionPolicy objects of a manifest as the daemon hands them to the
// parser: Kubernetes' metadata (namespace, uid, ...) reduced to name and
// labels.
std::vector<std::string> function_policies_in(const std::filesystem::path& file) {
    std::vector<std::string> out;
    for (YAML::Node doc : YAML::LoadAllFromFile(file.string())) {
        if (!doc["kind"] || doc["kind"].as<std::string>() != "FunctionPolicy") continue;
        YAML::Node metadata;
        metadata["name"] = doc["metadata"]["name"].as<std::string>();
        if (doc["metadata"]["labels"]) metadata["labels"] = YAML::Clone(doc["metadata"]["labels"]);
        doc["metadata"] = metadata;
        YAML::Emitter text;
        text << doc;
        out.push_back(text.c_str());
    }
    return out;
}

TEST(CrdSchemaTest, EveryExamplePolicyParses) {
    size_t seen = 0;
    for (const auto& dir : {kSource / "rules/examples", kSource / "examples/kubernetes"}) {
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            if (entry.path().extension() != ".yaml") continue;
            for (const auto& text : function_policies_in(entry.path())) {
                const PolicyParseResult result = parse_policy(text, entry.path().string());
                ++seen;
                for (const auto& e : result.errors) ADD_FAILURE() << e.to_string();
            }
        }
    }
    EXPECT_GE(seen, 5u);  // 3 in rules/examples, 2 in examples/kubernetes
}

TEST(CrdSchemaTest, TheBaseShipsTheBundledBaseline) {
    const std::string bundled = read_file(kSource / "rules/baseline.yaml");
    ASSERT_FALSE(bundled.empty());
    EXPECT_EQ(read_file(kSource / "deploy/kubernetes/baseline.yaml"), bundled)
        << "cp rules/baseline.yaml deploy/kubernetes/baseline.yaml";
}

TEST(CrdSchemaTest, TheShippedDaemonConfigsAreValid) {
    for (const char* file : {"deploy/kubernetes/fnwarden.yaml", "examples/kubernetes/fnwarden.yaml"}) {
        const ConfigLoad load = parse_daemon_config_file(kSource / file);
        for (const auto& e : load.errors) ADD_FAILURE() << e.to_string();
        ASSERT_TRUE(load.config) << file;
        for (const auto& problem : validate_daemon_config(*load.config)) ADD_FAILURE() << file << ": " << problem;
        // Reachable from the Service: not loopback.
        EXPECT_EQ(load.config->metrics_address.rfind("0.0.0.0:", 0), 0u) << file;
        EXPECT_EQ(load.config->kubeconfig, "in-cluster") << file;
    }
}

}  // namespace
}  // namespace fnw
