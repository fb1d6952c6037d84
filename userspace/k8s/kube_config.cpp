// SPDX-License-Identifier: Apache-2.0
#include "k8s/kube_config.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>

#include <yaml-cpp/yaml.h>

namespace fnw {

namespace {

namespace fs = std::filesystem;

// Tokens, certificates and kubeconfigs are kilobytes; a bound keeps a wrong
// path (a device, a huge log) from being read into memory whole.
constexpr std::uintmax_t kMaxCredentialFileBytes = 1 << 20;
constexpr std::uintmax_t kMaxKubeconfigBytes = 16 << 20;

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

struct FileContents {
    std::string text;
    std::string error;  // empty when text holds the whole file
};

FileContents read_bounded_file(const fs::path& path, std::uintmax_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {"", path.string() + ": " + std::strerror(errno)};
    FileContents contents;
    char buffer[8192];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        contents.text.append(buffer, static_cast<size_t>(in.gcount()));
        if (contents.text.size() > max_bytes)
            return {"", path.string() + ": larger than " + std::to_string(max_bytes) + " bytes"};
    }
    if (in.bad()) return {"", path.string() + ": read error"};
    return contents;
}

std::string_view trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n";
    const size_t first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// RFC 4648 with the standard alphabet, as Go's encoding/json writes []byte.
// Line breaks are skipped (base64 -w76 output pasted into YAML); missing
// padding is tolerated.
std::optional<std::string> decode_base64(std::string_view text) {
    auto value_of = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    uint32_t accumulator = 0;
    int bits = 0;
    size_t symbols = 0, padding = 0;
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c == '=') {
            ++padding;
            continue;
        }
        const int value = value_of(c);
        if (value < 0 || padding > 0) return std::nullopt;  // foreign byte, or data after '='
        accumulator = (accumulator << 6) | static_cast<uint32_t>(value);
        bits += 6;
        ++symbols;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
        }
    }
    if (symbols % 4 == 1 || padding > 2) return std::nullopt;
    return out;
}

bool looks_like_pem(std::string_view text) { return text.find("-----BEGIN ") != std::string_view::npos; }

// Scalar lookups that report what is wrong by key name instead of throwing
// yaml-cpp's position-less "bad conversion".
class KubeconfigReader {
public:
    explicit KubeconfigReader(fs::path file) : file_(std::move(file)) {}

    bool failed() const { return !error_.empty(); }
    std::string take_error() { return file_.string() + ": " + error_; }
    void fail(std::string message) {
        if (error_.empty()) error_ = std::move(message);
    }

    // "" when the key is absent or empty.
    std::string text(const YAML::Node& map, const char* key, const std::string& where) {
        const YAML::Node node = map[key];
        if (!node || node.IsNull()) return "";
        if (!node.IsScalar()) {
            fail(where + key + " must be a string");
            return "";
        }
        return node.Scalar();
    }

    bool boolean(const YAML::Node& map, const char* key, const std::string& where) {
        const YAML::Node node = map[key];
        if (!node || node.IsNull()) return false;
        if (node.IsScalar()) {
            const std::string& s = node.Scalar();
            if (s == "true" || s == "True" || s == "TRUE") return true;
            if (s == "false" || s == "False" || s == "FALSE") return false;
        }
        fail(where + key + " must be true or false");
        return false;
    }

    // A relative file name in a kubeconfig is relative to the kubeconfig.
    std::string path(const YAML::Node& map, const char* key, const std::string& where) {
        const std::string value = text(map, key, where);
        if (value.empty()) return value;
        const fs::path given(value);
        return given.is_absolute() ? value : (file_.parent_path() / given).lexically_normal().string();
    }

    // PEM text from a "*-data" key (base64 of the PEM file).
    std::string pem_data(const YAML::Node& map, const char* key, const std::string& where) {
        const std::string encoded = text(map, key, where);
        if (encoded.empty()) return encoded;
        auto decoded = decode_base64(encoded);
        if (!decoded) {
            fail(where + key + " is not valid base64");
            return "";
        }
        if (!looks_like_pem(*decoded)) {
            fail(where + key + " does not hold PEM data (-----BEGIN ...)");
            return "";
        }
        return std::move(*decoded);
    }

    // The `inner` mapping of the entry called `name` in the list `list`
    // (contexts/context, clusters/cluster, users/user). Null when missing.
    YAML::Node named_entry(const YAML::Node& root, const char* list, const char* inner, const std::string& name) {
        const YAML::Node entries = root[list];
        if (entries && !entries.IsNull() && !entries.IsSequence()) {
            fail(std::string(list) + " must be a list");
            return YAML::Node();
        }
        if (entries && entries.IsSequence()) {
            for (const YAML::Node& entry : entries) {
                if (!entry.IsMap() || !entry["name"] || !entry["name"].IsScalar() || entry["name"].Scalar() != name)
                    continue;
                const YAML::Node body = entry[inner];
                if (!body || !body.IsMap()) {
                    fail(std::string(list) + " entry " + in_quotes(name) + ": " + inner + " is missing");
                    return YAML::Node();
                }
                return body;
            }
        }
        fail(std::string(list) + ": no entry named " + in_quotes(name));
        return YAML::Node();
    }

private:
    fs::path file_;
    std::string error_;
};

bool valid_port(std::string_view port) {
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
    const int value = std::atoi(std::string(port).c_str());
    return value >= 1 && value <= 65535;
}

}  // namespace

Result<KubeEndpoint> in_cluster_config(const fs::path& service_account_dir) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return fail("not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set");
    if (!valid_port(port)) return fail("KUBERNETES_SERVICE_PORT must be a port number, not " + in_quotes(port));

    std::string shown_host = host;
    // An IPv6 literal needs brackets in a URL; the variable holds the bare address.
    if (shown_host.find(':') != std::string::npos && shown_host.front() != '[') shown_host = "[" + shown_host + "]";

    KubeEndpoint endpoint;
    endpoint.server = "https://" + shown_host + ":" + port;

    // Read once now so that a missing mount fails at startup, not at the
    // first connect; the watcher reads it again at every connect.
    const fs::path token = service_account_dir / "token";
    const FileContents token_text = read_bounded_file(token, kMaxCredentialFileBytes);
    if (!token_text.error.empty())
        return fail("service-account token " + token_text.error + " (is automountServiceAccountToken false?)");
    if (trim(token_text.text).empty()) return fail("service-account token " + token.string() + " is empty");
    endpoint.token_file = token.string();

    const fs::path ca = service_account_dir / "ca.crt";
    const FileContents ca_text = read_bounded_file(ca, kMaxCredentialFileBytes);
    if (!ca_text.error.empty()) return fail("cluster CA " + ca_text.error);
    if (!looks_like_pem(ca_text.text)) return fail("cluster CA " + ca.string() + " is not a PEM certificate");
    endpoint.ca_file = ca.string();
    return endpoint;
}

namespace {

// The parts of a kubeconfig: each step reads one entry (context, cluster,
// user) and names the file and the entry in what it returns.
class KubeconfigFile {
public:
    KubeconfigFile(fs::path path, YAML::Node root) : path_(std::move(path)), root_(std::move(root)), reader_(path_) {}

    Error error(const std::string& message) const { return fail(path_.string() + ": " + message); }

    // The context's cluster and user names; user is "" when it has none.
    Result<std::pair<std::string, std::string>> context_names(std::string context) {
        if (context.empty()) {
            context = reader_.text(root_, "current-context", "");
            if (reader_.failed()) return fail(reader_.take_error());
            if (context.empty()) return error("current-context is not set and no context was given");
        }
        const YAML::Node context_body = reader_.named_entry(root_, "contexts", "context", context);
        if (reader_.failed()) return fail(reader_.take_error());

        const std::string in_context = "context " + in_quotes(context) + ": ";
        std::string cluster_name = reader_.text(context_body, "cluster", in_context + "context.");
        // No user is legitimate: `kubectl proxy` or a test server needs none.
        std::string user_name = reader_.text(context_body, "user", in_context + "context.");
        if (reader_.failed()) return fail(reader_.take_error());
        if (cluster_name.empty()) return error(in_context + "context.cluster is missing");
        return std::pair{std::move(cluster_name), std::move(user_name)};
    }

    Status read_cluster(const std::string& cluster_name, KubeEndpoint& endpoint) {
        const YAML::Node cluster = reader_.named_entry(root_, "clusters", "cluster", cluster_name);
        if (reader_.failed()) return fail(reader_.take_error());
        const std::string in_cluster = "cluster " + in_quotes(cluster_name) + ": cluster.";
        endpoint.server = reader_.text(cluster, "server", in_cluster);
        endpoint.ca_pem = reader_.pem_data(cluster, "certificate-authority-data", in_cluster);
        // client-go: the inline data wins over the file when both are given.
        if (endpoint.ca_pem.empty()) endpoint.ca_file = reader_.path(cluster, "certificate-authority", in_cluster);
        endpoint.insecure_skip_tls_verify = reader_.boolean(cluster, "insecure-skip-tls-verify", in_cluster);
        if (reader_.failed()) return fail(reader_.take_error());
        if (endpoint.server.empty()) return error(in_cluster + "server is missing");
        if (!endpoint.server.starts_with("https://") && !endpoint.server.starts_with("http://"))
            return error(in_cluster + "server must be an https:// URL, not " + in_quotes(endpoint.server));
        // Same rule as client-go: a CA and "trust anything" contradict each other,
        // and silently picking one hides a mistake in a security setting.
        if (endpoint.insecure_skip_tls_verify && (!endpoint.ca_pem.empty() || !endpoint.ca_file.empty()))
            return error(in_cluster + "insecure-skip-tls-verify cannot be combined with certificate-authority(-data)");
        return {};
    }

    Status read_user(const std::string& user_name, KubeEndpoint& endpoint) {
        const YAML::Node user = reader_.named_entry(root_, "users", "user", user_name);
        if (reader_.failed()) return fail(reader_.take_error());
        const std::string in_user = "user " + in_quotes(user_name) + ": user.";
        if (Status supported = refuse_unsupported_auth(user, in_user); !supported) return supported;

        endpoint.bearer_token = std::string(trim(reader_.text(user, "token", in_user)));
        endpoint.token_file = reader_.path(user, "tokenFile", in_user);
        endpoint.client_cert_pem = reader_.pem_data(user, "client-certificate-data", in_user);
        if (endpoint.client_cert_pem.empty())
            endpoint.client_cert_file = reader_.path(user, "client-certificate", in_user);
        endpoint.client_key_pem = reader_.pem_data(user, "client-key-data", in_user);
        if (endpoint.client_key_pem.empty()) endpoint.client_key_file = reader_.path(user, "client-key", in_user);
        if (reader_.failed()) return fail(reader_.take_error());

        const bool has_cert = !endpoint.client_cert_pem.empty() || !endpoint.client_cert_file.empty();
        const bool has_key = !endpoint.client_key_pem.empty() || !endpoint.client_key_file.empty();
        if (has_cert && !has_key) return error(in_user + "client-certificate is set but client-key(-data) is missing");
        if (has_key && !has_cert) return error(in_user + "client-key is set but client-certificate(-data) is missing");
        return {};
    }

private:
    Status refuse_unsupported_auth(const YAML::Node& user, const std::string& in_user) const {
        if (const YAML::Node exec = user["exec"]) {
            const YAML::Node command = exec.IsMap() ? exec["command"] : YAML::Node();
            return error(in_user + "exec (credential plugin" +
                         (command && command.IsScalar() ? " " + in_quotes(command.Scalar()) : std::string()) +
                         ") is not supported; give the daemon a user with token, tokenFile or client-certificate");
        }
        if (const YAML::Node provider = user["auth-provider"]) {
            const YAML::Node name = provider.IsMap() ? provider["name"] : YAML::Node();
            return error(in_user + "auth-provider" +
                         (name && name.IsScalar() ? " " + in_quotes(name.Scalar()) : std::string()) +
                         " is not supported; give the daemon a user with token, tokenFile or client-certificate");
        }
        if (user["username"] || user["password"])
            return error(in_user +
                         "username/password (basic auth) is not supported; use token, tokenFile or client-certificate");
        return {};
    }

    fs::path path_;
    YAML::Node root_;
    KubeconfigReader reader_;
};

Result<KubeEndpoint> read_kubeconfig(const fs::path& path, std::string context) {
    const FileContents file = read_bounded_file(path, kMaxKubeconfigBytes);
    if (!file.error.empty()) return fail("kubeconfig " + file.error);

    YAML::Node root;
    try {
        root = YAML::Load(file.text);
    } catch (const YAML::Exception& e) {
        return fail(path.string() + ": not valid YAML: " + e.what());
    }
    if (!root.IsMap()) return fail(path.string() + ": not a kubeconfig (expected clusters, contexts and users)");
    KubeconfigFile kubeconfig(path, root);

    auto names = kubeconfig.context_names(std::move(context));
    if (!names) return fail(names.error());
    const auto& [cluster_name, user_name] = *names;
    KubeEndpoint endpoint;
    if (Status cluster = kubeconfig.read_cluster(cluster_name, endpoint); !cluster) return fail(cluster.error());
    if (user_name.empty()) return endpoint;
    if (Status user = kubeconfig.read_user(user_name, endpoint); !user) return fail(user.error());
    return endpoint;
}

}  // namespace

Result<KubeEndpoint> kubeconfig_file(const fs::path& path, std::string context) {
    // Every lookup above checks the node type first; this is the net for a
    // shape yaml-cpp still objects to, so a bad file is an error, never a crash.
    try {
        return read_kubeconfig(path, std::move(context));
    } catch (const YAML::Exception& e) {
        return fail(path.string() + ": " + e.what());
    }
}

}  // namespace fnw
