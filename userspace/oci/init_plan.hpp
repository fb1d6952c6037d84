// SPDX-License-Identifier: Apache-2.0
// What fnwarden-runtime's container init applies before it execs the
// container's entrypoint: a Landlock plan (paths as the container sees
// them) and, optionally, a seccomp program compiled by the wrapper. The
// wrapper writes it as text into a host directory bind-mounted read-only
// into the container; the init, a static binary, reads it. Standard
// library only: the init links nothing else.
//
//   fnwarden-init-plan 1
//   landlock ABI HANDLED_FS HANDLED_NET      (hex rights)
//   path ACCESS /app                         (hex rights; the path is the rest of the line)
//   port ACCESS 443
//   seccomp /.fnwarden/seccomp.bpf           (raw struct sock_filter[], optional)
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"
#include "runtime/landlock_sandbox.hpp"

namespace fnw {

struct InitPlan {
    LandlockPlan landlock;
    std::string seccomp_file;  // "" without a seccomp filter
};

std::string init_plan_text(const InitPlan& plan);
Result<InitPlan> parse_init_plan(std::string_view text);

}  // namespace fnw
