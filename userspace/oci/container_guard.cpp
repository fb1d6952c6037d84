// SPDX-License-Identifier: Apache-2.0
#include "oci/container_guard.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "common/unique_fd.hpp"
#include "control/control_client.hpp"
#include "core/elf_interpreter.hpp"
#include "core/enforcement_plan.hpp"
#include "core/policy_parser.hpp"
#include "oci/init_plan.hpp"
#include "oci/oci_config.hpp"
#include "oci/runc_args.hpp"
#include "oci/seccomp_program.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/landlock_sandbox.hpp"

namespace fnw {
namespace {

// runc's own status for a command that failed: what containerd and users expect.
constexpr int kExitFailed = 1;
constexpr auto kDaemonTimeout = std::chrono::seconds(5);

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value && *value ? value : fallback;
}

// The real runc: never this wrapper itself (a BinaryName that points back here).
Result<std::string> find_runc(const std::string& configured) {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::canonical("/proc/self/exe", ec);
    std::vector<std::string> candidates;
    if (!configured.empty()) candidates = {configured};
    else candidates = {"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"};
    for (const std::string& candidate : candidates) {
        if (::access(candidate.c_str(), X_OK) != 0) continue;
        if (std::filesystem::canonical(candidate, ec) == self) return fail(candidate + " is fnwarden-runtime itself");
        return candidate;
    }
    return fail("no runc found (" + candidates.front() + "; set FNWARDEN_RUNC)");
}

std::vector<char*> c_argv(std::vector<std::string>& argv) {
    std::vector<char*> out;
    for (std::string& arg : argv) out.push_back(arg.data());
    out.push_back(nullptr);
    return out;
}

[[noreturn]] void exec_runc(const std::string& runc, std::vector<std::string> argv) {
    std::vector<char*> args = c_argv(argv);
    ::execv(runc.c_str(), args.data());
    std::cerr << "fnwarden-runtime: cannot run " << runc << ": " << std::strerror(errno) << "\n";
    std::_Exit(kExitFailed);
}

// runc as a child, for the commands the wrapper has work after.
int run_runc(const std::string& runc, std::vector<std::string> argv) {
    std::vector<char*> args = c_argv(argv);
    const pid_t child = ::fork();
    if (child < 0) return kExitFailed;
    if (child == 0) {
        ::execv(runc.c_str(), args.data());
        std::_Exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Result<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail("cannot read " + path.string() + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Written beside and renamed over: runc never reads half a file.
Status write_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
    const std::filesystem::path temporary = path.string() + ".fnwarden-tmp";
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd.valid()) return fail("cannot write " + temporary.string() + ": " + std::strerror(errno));
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return fail("cannot write " + temporary.string() + ": " + std::strerror(errno));
    if (::fchmod(fd.get(), mode) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0)
        return fail("cannot replace " + path.string() + ": " + std::strerror(errno));
    return {};
}

// The policy the daemon applies to the function, as `fnwarden run` reads it.
Result<FunctionPolicy> policy_of(const PolicyReply& reply) {
    PolicyParseResult parsed = reply.document ? parse_policy(*reply.document, reply.file) : parse_policy_file(reply.file);
    if (!parsed.policy) return fail("policy " + reply.file + " does not parse: " +
                                    (parsed.errors.empty() ? "" : parsed.errors.front().to_string()));
    FunctionPolicy policy = std::move(*parsed.policy);
    if (policy.exec.restricted) resolve_exec_interpreters(policy.exec);
    if (!reply.baseline) return policy;
    BaselineParseResult baseline = reply.baseline_document ? parse_baseline(*reply.baseline_document, *reply.baseline)
                                                           : parse_baseline_file(*reply.baseline);
    if (!baseline.baseline) return fail("baseline " + *reply.baseline + " does not parse");
    (void)apply_baseline(policy, *baseline.baseline);
    return policy;
}

template <class Reply>
Result<Reply> ask(ControlClient& client, const ControlRequest& request) {
    std::optional<nlohmann::json> answer = client.ask(request, kDaemonTimeout);
    if (!answer) return fail("no answer from the daemon: " + client.last_error());
    return expect_reply<Reply>(*answer);
}

// What the init applies, written into `dir`: the seccomp program and the plan.
Result<InitPlan> write_init_plan(const FunctionPolicy& policy, Mode mode, const std::filesystem::path& dir,
                                 const InitMounts& mounts) {
    EnforcementCapabilities capabilities;
    capabilities.landlock_abi = landlock_abi();
    capabilities.seccomp_user_notif = true;
    const EnforcementPlan plan = plan_enforcement(policy, mode, capabilities, /*launched=*/true);
    if (!plan.refusal.empty()) return fail(plan.refusal);
    InitPlan init;
    init.landlock = plan_landlock(landlock_view(policy, plan), capabilities.landlock_abi);
    if (plan.syscalls.seccomp) {
        const std::filesystem::path program = dir / "seccomp.bpf";
        UniqueFd fd(::open(program.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd.valid()) return fail("cannot write " + program.string() + ": " + std::strerror(errno));
        if (Status written = write_seccomp_program(policy.syscalls.allow, plan.syscalls.action, fd.get()); !written)
            return fail(written.error());
        init.seccomp_file = mounts.container_dir + "/seccomp.bpf";
    }
    if (Status written = write_file(dir / "plan", init_plan_text(init), 0644); !written) return fail(written.error());
    if (Status mount_point = write_file(dir / "fnwarden-init", "", 0755); !mount_point)
        return fail(mount_point.error());
    return init;
}

ContainerRequest container_request(const std::string& id, const ContainerClaim& claim,
                                   const std::filesystem::path& cgroup) {
    ContainerRequest request;
    request.id = id;
    request.cgroup_path = cgroup.string();
    request.function = claim.function;
    request.namespace_ = claim.namespace_;
    request.pod = claim.pod;
    request.container = claim.container;
    return request;
}

// runc's container ids are [\w+-.]+: a directory name that cannot escape.
bool safe_id(const std::string& id) {
    if (id.empty() || id == "." || id == ".." || id.size() > 1024) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '+' && c != '-' && c != '.') return false;
    return true;
}

// Our own cgroup, relative to the cgroup2 mount: runc puts a relative
// cgroupfs path below the cgroup it runs in.
std::filesystem::path own_cgroup() {
    std::ifstream in("/proc/self/cgroup");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("0::", 0) == 0) return line.substr(3);
    return "/";
}

// A container a policy takes, its config.json rewritten, and the daemon
// that will guard its cgroup.
struct Prepared {
    ControlClient client;
    ContainerRequest request;
    std::filesystem::path state_dir;
};

Result<std::filesystem::path> cgroup_of(const RuncCommandLine& line, const nlohmann::json& config) {
    const std::optional<std::filesystem::path> cgroup2 = find_cgroup2_mount();
    if (!cgroup2) return fail("no cgroup2 mount in /proc/self/mountinfo");
    CgroupPlacement placement{"", line.systemd_cgroup, line.container_id};
    const nlohmann::json* path = config.contains("linux") ? &config["linux"] : nullptr;
    if (path && path->contains("cgroupsPath") && (*path)["cgroupsPath"].is_string())
        placement.cgroups_path = (*path)["cgroupsPath"].get<std::string>();
    return container_cgroup(placement, *cgroup2, own_cgroup());
}

// The daemon's word on the container: its function ("" none) and policy.
Result<std::optional<std::pair<ContainerReply, FunctionPolicy>>> ask_daemon(ControlClient& client,
                                                                            const ContainerRequest& request) {
    Result<ContainerReply> container = ask<ContainerReply>(client, request);
    if (!container) return fail(container.error());
    if (container->function.empty()) return std::optional<std::pair<ContainerReply, FunctionPolicy>>();
    Result<PolicyReply> reply = ask<PolicyReply>(client, PolicyRequest{container->function});
    if (!reply) return fail(reply.error());
    Result<FunctionPolicy> policy = policy_of(*reply);
    if (!policy) return fail(policy.error());
    container->mode = reply->mode;
    return std::optional(std::pair(std::move(*container), std::move(*policy)));
}

// Reads config.json; for a container a policy takes, writes the init's
// plan and rewrites config.json. Nothing when no policy takes it.
Result<std::optional<Prepared>> prepare_container(const RuncCommandLine& line, const RuntimeSettings& settings) {
    const std::filesystem::path config_path =
        (line.bundle.empty() ? std::filesystem::current_path() : std::filesystem::path(line.bundle)) / "config.json";
    Result<std::string> text = read_file(config_path);
    if (!text) return std::optional<Prepared>();  // runc says what is wrong with the bundle
    nlohmann::json config = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!config.is_object()) return std::optional<Prepared>();
    const ContainerClaim claim = claim_of(config);
    if (!claim.may_have_policy()) return std::optional<Prepared>();
    if (!safe_id(line.container_id)) return fail("container id \"" + line.container_id + "\" is not one runc takes");
    Result<std::filesystem::path> cgroup = cgroup_of(line, config);
    if (!cgroup) return fail(cgroup.error());
    auto client = ControlClient::connect(settings.socket, kDaemonTimeout);
    if (!client) return fail("the fnwarden daemon at " + settings.socket + " cannot be reached (" +
                             client.failure().message + ")");
    ContainerRequest request = container_request(line.container_id, claim, *cgroup);
    auto answer = ask_daemon(*client, request);
    if (!answer) return fail(answer.error());
    if (!*answer) return std::optional<Prepared>();  // no policy takes it: untouched
    const auto& [container, policy] = **answer;
    const std::filesystem::path dir = settings.state_root / line.container_id;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || ::chmod(dir.c_str(), 0755) != 0) return fail("cannot make " + dir.string() + ": " + ec.message());
    const InitMounts mounts{settings.init, dir};
    Result<InitPlan> plan = write_init_plan(policy, parse_mode(container.mode).value_or(Mode::Audit), dir, mounts);
    if (!plan) return fail(plan.error());
    Result<nlohmann::json> rewritten = rewrite_for_init(std::move(config), mounts);
    if (!rewritten) return fail(rewritten.error());
    struct stat st {};
    const mode_t mode = ::stat(config_path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
    if (Status written = write_file(config_path, rewritten->dump(2), mode); !written) return fail(written.error());
    request.function = container.function;
    request.landlock = plan->landlock.active();
    request.register_cgroup = true;
    return std::optional(Prepared{std::move(*client), std::move(request), dir});
}

// runc's global options and `delete --force ID`.
std::vector<std::string> force_delete_argv(const RuncCommandLine& line) {
    std::vector<std::string> argv(line.runc_argv.begin(),
                                  line.runc_argv.begin() + static_cast<std::ptrdiff_t>(line.command_index));
    argv.insert(argv.end(), {"delete", "--force", line.container_id});
    return argv;
}

// `runc create` leaves runc's init waiting at the exec fifo, in the
// container's cgroup: registered now, before `start` can let it exec.
int create_guarded(const RuncCommandLine& line, const std::string& runc, Prepared& prepared) {
    const int status = run_runc(runc, line.runc_argv);
    if (status != 0) return status;
    Result<ContainerReply> registered = ask<ContainerReply>(prepared.client, prepared.request);
    if (registered) return 0;
    std::cerr << "fnwarden-runtime: container " << line.container_id << ": the daemon did not register cgroup "
              << prepared.request.cgroup_path << ": " << registered.error() << "; deleting the container\n";
    run_runc(runc, force_delete_argv(line));
    return kExitFailed;
}

// `runc run` creates and starts at once: the cgroup is made and registered
// first (empty, armed), and runc puts the container into it.
int run_guarded(const RuncCommandLine& line, const std::string& runc, Prepared& prepared) {
    std::error_code ec;
    std::filesystem::create_directories(prepared.request.cgroup_path, ec);
    Result<ContainerReply> registered = ask<ContainerReply>(prepared.client, prepared.request);
    if (!registered) {
        std::cerr << "fnwarden-runtime: container " << line.container_id << ": the daemon did not register cgroup "
                  << prepared.request.cgroup_path << ": " << registered.error() << "; not starting it\n";
        return kExitFailed;
    }
    exec_runc(runc, line.runc_argv);
}

// The plan directory goes with the container.
int delete_container(const RuncCommandLine& line, const RuntimeSettings& settings, const std::string& runc) {
    std::error_code ec;
    const std::filesystem::path dir = settings.state_root / line.container_id;
    if (!safe_id(line.container_id) || !std::filesystem::exists(dir, ec)) exec_runc(runc, line.runc_argv);
    const int status = run_runc(runc, line.runc_argv);
    if (status == 0) std::filesystem::remove_all(dir, ec);
    return status;
}

}  // namespace

RuntimeSettings runtime_settings_from_environment() {
    RuntimeSettings settings;
    settings.runc = env_or("FNWARDEN_RUNC", "");
    settings.socket = env_or("FNWARDEN_SOCKET", "/run/fnwarden/fnwarden.sock");
    settings.state_root = env_or("FNWARDEN_RUNTIME_STATE", "/run/fnwarden/runtime");
    std::error_code ec;
    const std::filesystem::path here = std::filesystem::canonical("/proc/self/exe", ec).parent_path();
    std::filesystem::path init = here / "fnwarden-container-init";
    if (!std::filesystem::exists(init, ec)) init = here.parent_path() / "libexec/fnwarden/fnwarden-container-init";
    settings.init = env_or("FNWARDEN_CONTAINER_INIT", init.string());
    return settings;
}


int run_oci_runtime(const std::vector<std::string>& args, RuntimeSettings settings) {
    Result<RuncCommandLine> line = parse_runc_command_line(args);
    if (!line) {
        std::cerr << "fnwarden-runtime: " << line.error() << "\n";
        return kExitFailed;
    }
    if (!line->runc.empty()) settings.runc = line->runc;
    if (!line->socket.empty()) settings.socket = line->socket;
    Result<std::string> runc = find_runc(settings.runc);
    if (!runc) {
        std::cerr << "fnwarden-runtime: " << runc.error() << "\n";
        return kExitFailed;
    }
    if (line->command == "delete") return delete_container(*line, settings, *runc);
    if (line->command != "create" && line->command != "run") exec_runc(*runc, line->runc_argv);
    Result<std::optional<Prepared>> prepared = prepare_container(*line, settings);
    if (!prepared) {
        std::cerr << "fnwarden-runtime: refusing to " << line->command << " container " << line->container_id
                  << ", which claims a policy: " << prepared.error() << "\n";
        return kExitFailed;
    }
    if (!*prepared) exec_runc(*runc, line->runc_argv);  // no policy takes it: untouched
    return line->command == "create" ? create_guarded(*line, *runc, **prepared)
                                     : run_guarded(*line, *runc, **prepared);
}

}  // namespace fnw
