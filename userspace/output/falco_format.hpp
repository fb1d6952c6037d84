// SPDX-License-Identifier: Apache-2.0
// Events in Falco's JSON output schema, so that falcosidekick (and what
// reads Falco's alerts: its UI, Loki and Elasticsearch dashboards) takes
// fnwarden's events as they are. The fields and their types are those
// falcosidekick decodes (types.FalcoPayload): rule, priority, output,
// output_fields, time (RFC 3339), hostname, source, tags. docs/outputs.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "output/event_sinks.hpp"

namespace fnw {

enum class OutputFormat { Json, Falco };

// "json" or "falco"; nullopt for anything else.
std::optional<OutputFormat> output_format_from(std::string_view name);

// One line a person reads, the same words for every output: Falco's
// `output`, the journal's MESSAGE. e.g.
// "exec of /usr/bin/curl violates exec.allow: killed (function=f policy=p pid=12 comm=sh)".
std::string event_summary(const nlohmann::json& event);

// Falco's priority name for the event's severity: "Critical" ... "Informational".
std::string falco_priority(const nlohmann::json& event);

// A native event (docs/events.md) in Falco's schema.
nlohmann::json to_falco(const nlohmann::json& event);

// Hands the sinks it wraps each line in Falco's schema: the pipeline
// carries native lines (the journal sink reads those), and every sink that
// takes the chosen format sits behind one of these, so a line is parsed
// and converted once for all of them.
class FalcoFormatSink final : public EventSink {
public:
    explicit FalcoFormatSink(std::vector<std::unique_ptr<EventSink>> inner) : inner_(std::move(inner)) {}
    void write_lines(std::span<const std::string_view> lines) override;
    void reopen() override;
    void idle() override;  // the inner sinks may hold lines back (JsonLinesSink)
    std::string name() const override;
    // Lines that were not a JSON object (never expected: counted, not sent).
    uint64_t unreadable() const { return unreadable_; }

private:
    std::vector<std::unique_ptr<EventSink>> inner_;
    std::vector<std::string> converted_;  // reused between batches
    uint64_t unreadable_ = 0;
};

}  // namespace fnw
