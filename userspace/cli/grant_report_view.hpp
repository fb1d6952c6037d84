// SPDX-License-Identifier: Apache-2.0
// A grant report (core/grant_usage.hpp) for people: a table for the
// terminal, and markdown a CI job can post on a pull request.
#pragma once

#include <ostream>
#include <string>

#include "output/grant_report_json.hpp"

namespace fnw::cli {

// `text` as one markdown table cell, in code style: no pipe, backtick or
// newline can break the row.
std::string markdown_cell(const std::string& text);

// A summary line, then every grant with its use (unused ones first).
void print_grant_report_table(const GrantReport& report, std::ostream& out, bool color);

// A heading, the summary, the unused grants as a table, and the suggested
// policy in a collapsed block.
void print_grant_report_markdown(const GrantReportDocument& document, std::ostream& out);

}  // namespace fnw::cli
