// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon_config.hpp"

#include "common/group_id.hpp"
#include "core/display_name.hpp"
#include "core/selector.hpp"

#include "core/suggest.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>

#include <yaml-cpp/yaml.h>

namespace fnw {
namespace {

// A config file is a screenful; anything near this size is not one.
constexpr size_t kMaxConfigFileBytes = 1 << 20;

constexpr std::array<std::string_view, 26> kKeys = {
    "rules",        "mode",             "output",            "socket",       "socketGroup",
    "metrics",      "metricsAllowNonLoopback",               "webhook",      "ringbufBytes",
    "clientQueueBytes", "outputQueueEvents",                 "cgroupParent", "logLevel",
    "programStats", "kubeconfig", "nodeName",     "adminGroup", "pinRoot",   "unloadOnExit",
    "policySource", "functionPolicyNamespace", "functionPolicyStatus", "outputFormat",
    "bundle",       "trustedKey",       "requireSigned",
};

constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

// Smallest ring buffer the kernel takes: one page.
constexpr uint64_t kMinRingbufBytes = 4096;

// "socketGroup" -> "--socket-group": how validate_daemon_config names a
// setting that may have come from either place.
std::string flag_of(std::string_view key) {
    std::string flag = "--";
    for (char c : key) {
        if (std::isupper(static_cast<unsigned char>(c))) {
            flag.push_back('-');
            flag.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        } else {
            flag.push_back(c);
        }
    }
    return flag;
}

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Per-setting checks, shared by the file parser (which adds a position) and
// validate_daemon_config (which sees flags too). Each returns "" or what is
// wrong, phrased to follow the setting's name.

std::string check_rules_dir(const std::filesystem::path& dir) {
    return dir.empty() ? "must name the rules directory" : "";
}

// The JSON-lines sink takes "stdout"/"-" or opens anything else as a file.
// Relative paths are refused: they would depend on the daemon's working
// directory, which is "/" under systemd and something else in a shell.
std::string check_output(std::string_view output) {
    if (output == "stdout" || output == "-" || output == "none" || output.starts_with('/')) return "";
    return "must be \"stdout\", \"none\" or an absolute file path, not " + in_quotes(output);
}

std::string check_socket_path(std::string_view path) {
    // sun_path holds the path and its NUL; a longer one cannot be bound.
    constexpr size_t kMaxSocketPath = sizeof(sockaddr_un{}.sun_path) - 1;
    if (!path.starts_with('/')) return "must be an absolute path, not " + in_quotes(path);
    if (path.size() > kMaxSocketPath)
        return "is " + std::to_string(path.size()) + " bytes long; a unix socket path has at most " +
               std::to_string(kMaxSocketPath);
    return "";
}

std::string check_metrics_address(std::string_view address) {
    if (address.empty()) return "";
    auto parsed = parse_listen_address(address);
    if (parsed) return "";
    return "must be IP:PORT or [IPv6]:PORT (\"\" disables metrics), not " + in_quotes(address) + ": " + parsed.error();
}

std::string check_output_format(std::string_view format) {
    if (format == "json" || format == "falco") return "";
    return "must be \"json\" or \"falco\", not " + in_quotes(format);
}

std::string check_webhook(std::string_view url) {
    if (url.empty()) return "";
    for (std::string_view scheme : {"http://", "https://"})
        if (url.starts_with(scheme) && url.size() > scheme.size() &&
            url.find_first_of(" \t\r\n") == std::string_view::npos)
            return "";
    // Redacted: the URL may carry a token, and this message goes to
    // terminals, journals and CI logs.
    return "must be an http:// or https:// URL (\"\" for none), not " + in_quotes(redact_url(url));
}

std::string check_ringbuf_bytes(uint64_t bytes) {
    // The kernel refuses a BPF ring buffer that is not a page-aligned power of two.
    if (bytes >= kMinRingbufBytes && (bytes & (bytes - 1)) == 0) return "";
    return "must be a power of two of at least " + std::to_string(kMinRingbufBytes) + ", not " +
           std::to_string(bytes);
}

std::string check_client_queue_bytes(uint64_t bytes) {
    if (bytes >= kMinClientQueueBytes) return "";
    return "must be at least " + std::to_string(kMinClientQueueBytes) + ", not " + std::to_string(bytes);
}

std::string check_output_queue_events(uint64_t events) {
    return events > 0 ? "" : "must be at least 1";
}

std::string check_pin_root(std::string_view root) {
    if (root == "none") return "";
    if (!root.starts_with('/'))
        return "must be an absolute path on a bpf filesystem (like /sys/fs/bpf/fnwarden) or none, not " +
               in_quotes(root);
    if (root == "/" || root.find("/../") != std::string_view::npos || root.ends_with("/.."))
        return "must not be / or contain \"..\", not " + in_quotes(root);
    return "";
}

// A group name, or its id as decimal digits (socketGroup: 9464), which the
// daemon uses without a lookup (common/group_id.hpp).
std::string check_group(const std::string& group) {
    if (group.empty() || group.find_first_not_of("0123456789") != std::string::npos) return "";
    if (numeric_group_id(group)) return "";
    return "must be a group name or a group id below 4294967295, not " + in_quotes(group);
}

std::string check_cgroup_parent(std::string_view parent) {
    const std::string hint = " (relative to the cgroup2 root, like \"fnwarden\" or \"system.slice/fnwarden\")";
    if (parent.empty()) return "must not be empty" + hint;
    if (parent.starts_with('/')) return "must be a relative path, not " + in_quotes(parent) + hint;
    size_t start = 0;
    while (start <= parent.size()) {
        size_t end = std::min(parent.find('/', start), parent.size());
        std::string_view segment = parent.substr(start, end - start);
        if (segment.empty() || segment == "." || segment == "..")
            return "must not have empty, \".\" or \"..\" segments, not " + in_quotes(parent) + hint;
        start = end + 1;
    }
    return "";
}

std::string check_policy_namespace(std::string_view name) {
    if (name.empty()) return "";
    const std::string why = validate_namespace_name(name);
    return why.empty() ? "" : "must be \"\" (every namespace) or a namespace name: " + why;
}

std::string check_log_level(std::string_view level) {
    if (std::find(kLogLevels.begin(), kLogLevels.end(), level) != kLogLevels.end()) return "";
    std::string message = "must be one of";
    for (std::string_view known : kLogLevels) message += " " + std::string(known);
    return message + ", not " + in_quotes(level);
}

// Collects errors with positions; every key is checked, so one run shows
// every mistake of the file.
class ConfigReader {
public:
    explicit ConfigReader(std::string file) : file_(std::move(file)) {}

    void error(const YAML::Node& at, std::string message) {
        // yaml-cpp marks are 0-based; a null mark (-1) means "no position".
        const YAML::Mark mark = at.Mark();
        errors_.push_back({file_, mark.line >= 0 ? mark.line + 1 : 0, mark.column >= 0 ? mark.column + 1 : 0,
                           std::move(message)});
    }
    void error_at(int line, int column, std::string message) {
        errors_.push_back({file_, line, column, std::move(message)});
    }
    // Reports `problem` (from a check_* function) if there is one.
    bool check(const YAML::Node& at, std::string_view key, std::string problem) {
        if (problem.empty()) return true;
        error(at, std::string(key) + " " + problem);
        return false;
    }

    // An empty value ("webhook:") is the empty string: the checks decide
    // whether that is allowed for the key.
    std::optional<std::string> text(const YAML::Node& node, std::string_view key) {
        if (node.IsNull()) return std::string();
        if (!node.IsScalar()) {
            error(node, std::string(key) + " must be a string");
            return std::nullopt;
        }
        return node.Scalar();
    }

    // Decimal digits only: yaml-cpp's own conversion would take "-1" and
    // wrap it to a huge unsigned number.
    std::optional<uint64_t> whole_number(const YAML::Node& node, std::string_view key, uint64_t max) {
        const std::string shown = node.IsScalar() ? in_quotes(node.Scalar())
                                  : node.IsNull()   ? std::string("an empty value")
                                                    : std::string("a list or mapping");
        if (!node.IsScalar() || node.Scalar().empty() ||
            node.Scalar().find_first_not_of("0123456789") != std::string::npos) {
            error(node, std::string(key) + " must be a whole number, not " + shown);
            return std::nullopt;
        }
        uint64_t value = 0;
        for (char digit : node.Scalar()) {
            const uint64_t d = static_cast<uint64_t>(digit - '0');
            if (value > (max - d) / 10) {
                error(node, std::string(key) + " must be at most " + std::to_string(max) + ", not " + shown);
                return std::nullopt;
            }
            value = value * 10 + d;
        }
        return value;
    }

    // YAML 1.2 booleans only: "yes"/"on" are strings there, and a typo for
    // a security switch should be an error, not a guess.
    std::optional<bool> boolean(const YAML::Node& node, std::string_view key) {
        if (node.IsScalar()) {
            const std::string& s = node.Scalar();
            if (s == "true" || s == "True" || s == "TRUE") return true;
            if (s == "false" || s == "False" || s == "FALSE") return false;
        }
        error(node, std::string(key) + " must be true or false" +
                        (node.IsScalar() ? ", not " + in_quotes(node.Scalar()) : std::string()));
        return std::nullopt;
    }

    std::vector<PolicyError> take() { return std::move(errors_); }
    bool clean() const { return errors_.empty(); }

private:
    std::string file_;
    std::vector<PolicyError> errors_;
};

// Reads one key's value into `config`, or reports why not.
void read_setting(ConfigReader& reader, std::string_view key, const YAML::Node& value, DaemonConfig& config) {
    if (key == "rules") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_rules_dir(*text)))
            config.rules_dir = *text;
    } else if (key == "mode") {
        if (auto text = reader.text(value, key)) {
            if (auto mode = parse_mode(*text))
                config.mode = *mode;
            else
                reader.error(value, "mode must be \"audit\" or \"enforce\", not " + in_quotes(*text));
        }
    } else if (key == "output") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_output(*text)))
            config.output = *text;
    } else if (key == "socket") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_socket_path(*text)))
            config.socket_path = *text;
    } else if (key == "socketGroup") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_group(*text)))
            config.socket_group = *text;
    } else if (key == "adminGroup") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_group(*text)))
            config.admin_group = *text;
    } else if (key == "metrics") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_metrics_address(*text)))
            config.metrics_address = *text;
    } else if (key == "metricsAllowNonLoopback") {
        if (auto flag = reader.boolean(value, key)) config.metrics_allow_non_loopback = *flag;
    } else if (key == "webhook") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_webhook(*text)))
            config.webhook_url = *text;
    } else if (key == "outputFormat") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_output_format(*text)))
            config.output_format = *text;
    } else if (key == "ringbufBytes") {
        if (auto n = reader.whole_number(value, key, std::numeric_limits<uint32_t>::max());
            n && reader.check(value, key, check_ringbuf_bytes(*n)))
            config.ringbuf_bytes = static_cast<uint32_t>(*n);
    } else if (key == "clientQueueBytes") {
        if (auto n = reader.whole_number(value, key, std::numeric_limits<size_t>::max());
            n && reader.check(value, key, check_client_queue_bytes(*n)))
            config.client_queue_bytes = static_cast<size_t>(*n);
    } else if (key == "outputQueueEvents") {
        if (auto n = reader.whole_number(value, key, std::numeric_limits<size_t>::max());
            n && reader.check(value, key, check_output_queue_events(*n)))
            config.output_queue_events = static_cast<size_t>(*n);
    } else if (key == "cgroupParent") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_cgroup_parent(*text)))
            config.cgroup_parent = *text;
    } else if (key == "logLevel") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_log_level(*text)))
            config.log_level = *text;
    } else if (key == "pinRoot") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_pin_root(*text)))
            config.pin_root = *text;
    } else if (key == "unloadOnExit") {
        if (auto flag = reader.boolean(value, key)) config.unload_on_exit = *flag;
    } else if (key == "programStats") {
        if (auto flag = reader.boolean(value, key)) config.program_stats = *flag;
    } else if (key == "kubeconfig") {
        if (auto text = reader.text(value, key)) config.kubeconfig = *text;
    } else if (key == "nodeName") {
        if (auto text = reader.text(value, key)) config.node_name = *text;
    } else if (key == "policySource") {
        if (auto text = reader.text(value, key)) {
            auto source = parse_policy_source(*text);
            if (reader.check(value, key, source ? "" : "must be files, kubernetes or both, not " + in_quotes(*text)))
                config.policy_source = *source;
        }
    } else if (key == "bundle" || key == "trustedKey") {
        if (auto text = reader.text(value, key)) (key == "bundle" ? config.bundle : config.trusted_key) = *text;
    } else if (key == "requireSigned") {
        if (auto flag = reader.boolean(value, key)) config.require_signed = *flag;
    } else if (key == "functionPolicyStatus") {
        if (auto flag = reader.boolean(value, key)) config.function_policy_status = *flag;
    } else if (key == "functionPolicyNamespace") {
        if (auto text = reader.text(value, key); text && reader.check(value, key, check_policy_namespace(*text)))
            config.function_policy_namespace = *text;
    }
}

std::string unknown_key_message(std::string_view key) {
    std::string message = "unknown key " + in_quotes(key);
    if (std::string_view close = closest_key(key, kKeys); !close.empty())
        return message + " (did you mean " + in_quotes(close) + "?)";
    message += " (expected one of:";
    for (std::string_view known : kKeys) message += " " + std::string(known);
    return message + ")";
}

}  // namespace

std::optional<PolicySource> parse_policy_source(std::string_view text) {
    if (text == "files") return PolicySource::Files;
    if (text == "kubernetes") return PolicySource::Kubernetes;
    if (text == "both") return PolicySource::Both;
    return std::nullopt;
}

std::string_view to_string(PolicySource source) {
    switch (source) {
    case PolicySource::Files: return "files";
    case PolicySource::Kubernetes: return "kubernetes";
    case PolicySource::Both: return "both";
    }
    return "files";
}

ConfigLoad parse_daemon_config(const std::string& yaml_text, const std::string& source_name) {
    ConfigReader reader(source_name);
    DaemonConfig config;
    try {
        const YAML::Node root = YAML::Load(yaml_text);
        if (root.IsMap()) {
            std::map<std::string, int, std::less<>> first_line;
            for (const auto& entry : root) {
                const YAML::Node& key = entry.first;
                if (!key.IsScalar()) {
                    reader.error(key, "a key must be a plain name");
                    continue;
                }
                const std::string& name = key.Scalar();
                if (std::find(kKeys.begin(), kKeys.end(), name) == kKeys.end()) {
                    reader.error(key, unknown_key_message(name));
                    continue;
                }
                // yaml-cpp keeps both copies of a repeated key; which one
                // wins is not something a config should leave to a parser.
                if (auto [it, fresh] = first_line.emplace(name, key.Mark().line + 1); !fresh) {
                    reader.error(key, "duplicate key " + in_quotes(name) + " (first on line " +
                                          std::to_string(it->second) + ")");
                    continue;
                }
                read_setting(reader, name, entry.second, config);
            }
        } else if (root.IsDefined() && !root.IsNull()) {
            reader.error(root, "the config must be a mapping of settings (key: value)");
        }
    } catch (const YAML::ParserException& e) {
        reader.error_at(e.mark.line + 1, e.mark.column + 1, "invalid YAML: " + e.msg);
    } catch (const YAML::Exception& e) {
        // Defensive, as in the policy parser: odd node shapes throw.
        reader.error_at(0, 0, std::string("invalid config: ") + e.what());
    }
    if (!reader.clean()) return {std::nullopt, reader.take(), source_name};
    return {std::move(config), {}, source_name};
}

ConfigLoad parse_daemon_config_file(const std::filesystem::path& path) {
    const std::string shown = path.string();
    auto fail = [&](std::string message) {
        return ConfigLoad{std::nullopt, {{shown, 0, 0, std::move(message)}}, shown};
    };

    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status)) return fail("config file does not exist");
    if (!std::filesystem::is_regular_file(status)) return fail("config file is not a regular file");

    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(std::string("cannot read config file: ") + std::strerror(errno));
    std::string text(kMaxConfigFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) return fail("cannot read config file");
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigFileBytes)
        return fail("config file larger than " + std::to_string(kMaxConfigFileBytes) + " bytes");
    return parse_daemon_config(text, shown);
}

ConfigLoad load_daemon_config(const std::optional<std::filesystem::path>& named,
                              const std::filesystem::path& default_file) {
    if (named) return parse_daemon_config_file(*named);
    // symlink_status: a dangling link at the default place is a broken
    // deployment (an unmounted ConfigMap), not "no config".
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(default_file, ec)))
        return {DaemonConfig{}, {}, ""};
    return parse_daemon_config_file(default_file);
}

std::vector<std::string> validate_daemon_config(const DaemonConfig& config) {
    std::vector<std::string> problems;
    auto report = [&](std::string_view key, std::string problem) {
        if (!problem.empty()) problems.push_back(std::string(key) + " (" + flag_of(key) + ") " + problem);
    };
    report("rules", check_rules_dir(config.rules_dir));
    report("output", check_output(config.output));
    report("socket", check_socket_path(config.socket_path));
    report("socketGroup", check_group(config.socket_group));
    report("adminGroup", check_group(config.admin_group));
    report("metrics", check_metrics_address(config.metrics_address));
    report("webhook", check_webhook(config.webhook_url));
    report("outputFormat", check_output_format(config.output_format));
    report("ringbufBytes", check_ringbuf_bytes(config.ringbuf_bytes));
    report("clientQueueBytes", check_client_queue_bytes(config.client_queue_bytes));
    report("outputQueueEvents", check_output_queue_events(config.output_queue_events));
    report("cgroupParent", check_cgroup_parent(config.cgroup_parent));
    report("logLevel", check_log_level(config.log_level));
    report("pinRoot", check_pin_root(config.pin_root));
    report("functionPolicyNamespace", check_policy_namespace(config.function_policy_namespace));
    if (config.policy_source != PolicySource::Files && config.kubeconfig.empty())
        problems.push_back("policySource " + in_quotes(to_string(config.policy_source)) +
                           " reads FunctionPolicy objects from the Kubernetes API: set kubeconfig (--kubeconfig) "
                           "to in-cluster or a kubeconfig file");

    if (!config.bundle.empty() && config.trusted_key.empty())
        problems.push_back("bundle (--bundle) needs trustedKey (--trusted-key): the public key it must verify with");
    if (config.bundle.empty() && !config.trusted_key.empty())
        problems.push_back("trustedKey (--trusted-key) is for a bundle: set bundle (--bundle) too");
    if (!config.bundle.empty() && config.policy_source == PolicySource::Kubernetes)
        problems.push_back("bundle (--bundle) replaces the rules directory: policySource kubernetes reads none");

    // Checked here, after the flags are applied, and not in the file parser:
    // either setting may come from the file and the other from a flag.
    if (auto address = parse_listen_address(config.metrics_address);
        address && !address->loopback && !config.metrics_allow_non_loopback) {
        problems.push_back("metrics (--metrics) " + in_quotes(config.metrics_address) +
                           " is not a loopback address and the endpoint has no authentication; set "
                           "metricsAllowNonLoopback: true (--metrics-allow-non-loopback) to serve it anyway");
    }
    return problems;
}

std::vector<std::string> daemon_config_warnings(const DaemonConfig& config) {
    std::vector<std::string> warnings;
    const std::string& url = config.webhook_url;
    if (url.starts_with("http://") && !url_host_is_loopback(url))
        warnings.push_back("webhook (--webhook) " + in_quotes(redact_url(url)) +
                           " is plain http:// to another host: events (process names, arguments, paths) and any "
                           "token in the URL travel unencrypted; use https://");
    return warnings;
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
    std::string_view host, port;
    const bool bracketed = text.starts_with('[');
    if (bracketed) {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) return fail("no ']' after the IPv6 address");
        host = text.substr(1, close - 1);
        if (text.substr(close + 1, 1) != ":") return fail("no \":PORT\" after ']'");
        port = text.substr(close + 2);
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return fail("no \":PORT\"");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return fail("an IPv6 address goes in brackets: [::1]:9464");
    }
    if (host.empty()) return fail("no address before the port (0.0.0.0 listens on every interface)");
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoul(std::string(port)) > 65535)
        return fail("the port must be 0-65535 (0: any free port, shown by `fnwarden status`)");

    ListenAddress address;
    address.host = std::string(host);
    address.port = static_cast<uint16_t>(std::stoul(std::string(port)));
    in_addr v4{};
    in6_addr v6{};
    if (!bracketed && inet_pton(AF_INET, address.host.c_str(), &v4) == 1) {
        address.loopback = (ntohl(v4.s_addr) >> 24) == 127;
    } else if (bracketed && inet_pton(AF_INET6, address.host.c_str(), &v6) == 1) {
        const bool mapped_loopback = IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
        address.loopback = IN6_IS_ADDR_LOOPBACK(&v6) || mapped_loopback;
    } else {
        return fail(bracketed ? "not an IPv6 address" : "not an IPv4 address (names are not resolved)");
    }
    return address;
}

}  // namespace fnw
