// SPDX-License-Identifier: Apache-2.0
#include "output/policy_refusal_event.hpp"

#include <nlohmann/json.hpp>

namespace fnw {

std::string policy_refused_line(const PolicyRefusal& refusal) {
    nlohmann::json event = {{"type", "policy_refused"},
                            {"time", refusal.time},
                            {"source", refusal.source},
                            {"reason", refusal.reason},
                            {"error", refusal.message},
                            {"in_force", refusal.in_force.empty() ? nlohmann::json(nullptr)
                                                                  : nlohmann::json(refusal.in_force)}};
    return event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace fnw
