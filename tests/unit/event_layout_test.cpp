// SPDX-License-Identifier: Apache-2.0
// The structs in include/fnwarden/ are compiled twice: by clang for BPF and
// by g++ here. This test reads the BTF that clang emitted into the BPF object
// and compares every struct, field by field, with this compiler's view. A
// field added, moved or resized on one side only fails here.
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cstddef>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

namespace fnw {
namespace {

struct FieldLayout {
    size_t offset;
    size_t size;
};

struct StructLayout {
    size_t size;
    std::map<std::string, FieldLayout> fields;
};

#define FNW_FIELD(type, member) \
    { #member, FieldLayout{offsetof(type, member), sizeof(((type*)nullptr)->member)} }

const std::map<std::string, StructLayout>& expected_layouts() {
    static const std::map<std::string, StructLayout> layouts = {
        {"fnw_event_header",
         {sizeof(fnw_event_header),
          {FNW_FIELD(fnw_event_header, type), FNW_FIELD(fnw_event_header, size),
           FNW_FIELD(fnw_event_header, boot_ns), FNW_FIELD(fnw_event_header, cgroup_id),
           FNW_FIELD(fnw_event_header, pid), FNW_FIELD(fnw_event_header, tid),
           FNW_FIELD(fnw_event_header, ppid), FNW_FIELD(fnw_event_header, policy_id),
           FNW_FIELD(fnw_event_header, comm), FNW_FIELD(fnw_event_header, lineage),
           FNW_FIELD(fnw_event_header, lineage_len), FNW_FIELD(fnw_event_header, lineage_truncated),
           FNW_FIELD(fnw_event_header, lineage_source), FNW_FIELD(fnw_event_header, pad)}}},
        {"fnw_syscall_event",
         {sizeof(fnw_syscall_event),
          {FNW_FIELD(fnw_syscall_event, hdr), FNW_FIELD(fnw_syscall_event, nr),
           FNW_FIELD(fnw_syscall_event, verdict), FNW_FIELD(fnw_syscall_event, action),
           FNW_FIELD(fnw_syscall_event, mechanism),
           FNW_FIELD(fnw_syscall_event, rule), FNW_FIELD(fnw_syscall_event, args)}}},
        {"fnw_net_event",
         {sizeof(fnw_net_event),
          {FNW_FIELD(fnw_net_event, hdr), FNW_FIELD(fnw_net_event, addr), FNW_FIELD(fnw_net_event, port),
           FNW_FIELD(fnw_net_event, family), FNW_FIELD(fnw_net_event, protocol), FNW_FIELD(fnw_net_event, op),
           FNW_FIELD(fnw_net_event, verdict), FNW_FIELD(fnw_net_event, action),
           FNW_FIELD(fnw_net_event, mechanism), FNW_FIELD(fnw_net_event, local_port),
           FNW_FIELD(fnw_net_event, unix_path_len), FNW_FIELD(fnw_net_event, pad),
           FNW_FIELD(fnw_net_event, unix_path), FNW_FIELD(fnw_net_event, pad2)}}},
        {"fnw_net_key",
         {sizeof(fnw_net_key),
          {FNW_FIELD(fnw_net_key, prefixlen), FNW_FIELD(fnw_net_key, policy_id), FNW_FIELD(fnw_net_key, direction),
           FNW_FIELD(fnw_net_key, protocol), FNW_FIELD(fnw_net_key, port), FNW_FIELD(fnw_net_key, addr)}}},
        {"fnw_file_event",
         {sizeof(fnw_file_event),
          {FNW_FIELD(fnw_file_event, hdr), FNW_FIELD(fnw_file_event, nr), FNW_FIELD(fnw_file_event, ret),
           FNW_FIELD(fnw_file_event, dfd), FNW_FIELD(fnw_file_event, verdict), FNW_FIELD(fnw_file_event, action),
           FNW_FIELD(fnw_file_event, mechanism), FNW_FIELD(fnw_file_event, path_truncated),
           FNW_FIELD(fnw_file_event, access), FNW_FIELD(fnw_file_event, access2),
           FNW_FIELD(fnw_file_event, argv_len),
           FNW_FIELD(fnw_file_event, open_flags), FNW_FIELD(fnw_file_event, resolved_kind),
           FNW_FIELD(fnw_file_event, resolved_truncated), FNW_FIELD(fnw_file_event, path2_truncated),
           FNW_FIELD(fnw_file_event, traced), FNW_FIELD(fnw_file_event, dev), FNW_FIELD(fnw_file_event, ino),
           FNW_FIELD(fnw_file_event, parent_ino), FNW_FIELD(fnw_file_event, generation),
           FNW_FIELD(fnw_file_event, missing), FNW_FIELD(fnw_file_event, object_flags),
           FNW_FIELD(fnw_file_event, dfd2), FNW_FIELD(fnw_file_event, sha256_check),
           FNW_FIELD(fnw_file_event, resolve_note), FNW_FIELD(fnw_file_event, held), FNW_FIELD(fnw_file_event, pad), FNW_FIELD(fnw_file_event, sha256), FNW_FIELD(fnw_file_event, expected_sha256), FNW_FIELD(fnw_file_event, path), FNW_FIELD(fnw_file_event, resolved),
           FNW_FIELD(fnw_file_event, path2), FNW_FIELD(fnw_file_event, argv)}}},
        {"fnw_file_rule_key",
         {sizeof(fnw_file_rule_key),
          {FNW_FIELD(fnw_file_rule_key, policy_id), FNW_FIELD(fnw_file_rule_key, generation),
           FNW_FIELD(fnw_file_rule_key, dev), FNW_FIELD(fnw_file_rule_key, ino)}}},
        {"fnw_file_rule_name_key",
         {sizeof(fnw_file_rule_name_key),
          {FNW_FIELD(fnw_file_rule_name_key, policy_id), FNW_FIELD(fnw_file_rule_name_key, generation),
           FNW_FIELD(fnw_file_rule_name_key, dev), FNW_FIELD(fnw_file_rule_name_key, ino),
           FNW_FIELD(fnw_file_rule_name_key, name)}}},
        {"fnw_hold",
         {sizeof(fnw_hold),
          {FNW_FIELD(fnw_hold, held_ns), FNW_FIELD(fnw_hold, cgroup_id), FNW_FIELD(fnw_hold, tgid),
           FNW_FIELD(fnw_hold, policy_id)}}},
        {"fnw_object_identity",
         {sizeof(fnw_object_identity),
          {FNW_FIELD(fnw_object_identity, dev), FNW_FIELD(fnw_object_identity, ino),
           FNW_FIELD(fnw_object_identity, generation), FNW_FIELD(fnw_object_identity, pad)}}},
        {"fnw_rules_root_key",
         {sizeof(fnw_rules_root_key),
          {FNW_FIELD(fnw_rules_root_key, policy_id), FNW_FIELD(fnw_rules_root_key, mnt_ns),
           FNW_FIELD(fnw_rules_root_key, root_dev), FNW_FIELD(fnw_rules_root_key, root_ino)}}},
        {"fnw_file_rule",
         {sizeof(fnw_file_rule),
          {FNW_FIELD(fnw_file_rule, exact), FNW_FIELD(fnw_file_rule, subtree),
           FNW_FIELD(fnw_file_rule, named_entries),
           FNW_FIELD(fnw_file_rule, use_exact), FNW_FIELD(fnw_file_rule, use_subtree),
           FNW_FIELD(fnw_file_rule, flags)}}},
        {"fnw_file_verdict_key",
         {sizeof(fnw_file_verdict_key),
          {FNW_FIELD(fnw_file_verdict_key, policy_id), FNW_FIELD(fnw_file_verdict_key, access),
           FNW_FIELD(fnw_file_verdict_key, dev), FNW_FIELD(fnw_file_verdict_key, ino),
           FNW_FIELD(fnw_file_verdict_key, parent_ino), FNW_FIELD(fnw_file_verdict_key, generation),
           FNW_FIELD(fnw_file_verdict_key, pad)}}},
        {"fnw_cgroup_entry",
         {sizeof(fnw_cgroup_entry),
          {FNW_FIELD(fnw_cgroup_entry, policy_id), FNW_FIELD(fnw_cgroup_entry, flags)}}},
        {"fnw_policy",
         {sizeof(fnw_policy),
          {FNW_FIELD(fnw_policy, syscall_allow), FNW_FIELD(fnw_policy, syscall_action),
           FNW_FIELD(fnw_policy, net_action), FNW_FIELD(fnw_policy, flags), FNW_FIELD(fnw_policy, exec_action),
           FNW_FIELD(fnw_policy, file_action), FNW_FIELD(fnw_policy, file_kernel_rights),
           FNW_FIELD(fnw_policy, process_action), FNW_FIELD(fnw_policy, code_action)}}},
        {"fnw_cgroup_event",
         {sizeof(fnw_cgroup_event),
          {FNW_FIELD(fnw_cgroup_event, hdr), FNW_FIELD(fnw_cgroup_event, parent_id),
           FNW_FIELD(fnw_cgroup_event, inherited_policy_id), FNW_FIELD(fnw_cgroup_event, inherited),
           FNW_FIELD(fnw_cgroup_event, path_truncated), FNW_FIELD(fnw_cgroup_event, pad),
           FNW_FIELD(fnw_cgroup_event, path)}}},
        {"fnw_exec_key", {sizeof(fnw_exec_key), {FNW_FIELD(fnw_exec_key, policy_id), FNW_FIELD(fnw_exec_key, path)}}},
        {"fnw_unix_key",
         {sizeof(fnw_unix_key),
          {FNW_FIELD(fnw_unix_key, policy_id), FNW_FIELD(fnw_unix_key, len), FNW_FIELD(fnw_unix_key, pad),
           FNW_FIELD(fnw_unix_key, path)}}},
        {"fnw_path_arg",
         {sizeof(fnw_path_arg),
          {FNW_FIELD(fnw_path_arg, where), FNW_FIELD(fnw_path_arg, op), FNW_FIELD(fnw_path_arg, path2_arg),
           FNW_FIELD(fnw_path_arg, dfd2_arg)}}},
        {"fnw_syscall_set", {sizeof(fnw_syscall_set), {FNW_FIELD(fnw_syscall_set, bits)}}},
        {"fnw_rule_use",
         {sizeof(fnw_rule_use), {FNW_FIELD(fnw_rule_use, syscalls), FNW_FIELD(fnw_rule_use, grants)}}},
        {"fnw_violation_reported",
         {sizeof(fnw_violation_reported),
          {FNW_FIELD(fnw_violation_reported, repeats), FNW_FIELD(fnw_violation_reported, last_ns)}}},
        {"fnw_slot_owner",
         {sizeof(fnw_slot_owner),
          {FNW_FIELD(fnw_slot_owner, function), FNW_FIELD(fnw_slot_owner, policy), FNW_FIELD(fnw_slot_owner, mode),
           FNW_FIELD(fnw_slot_owner, pad)}}},
        {"fnw_counters",
         {sizeof(fnw_counters),
          {FNW_FIELD(fnw_counters, events), FNW_FIELD(fnw_counters, violations),
           FNW_FIELD(fnw_counters, emitted), FNW_FIELD(fnw_counters, ringbuf_drops),
           FNW_FIELD(fnw_counters, kills), FNW_FIELD(fnw_counters, signal_errors),
           FNW_FIELD(fnw_counters, cgroups_inherited), FNW_FIELD(fnw_counters, net_checks),
           FNW_FIELD(fnw_counters, net_violations), FNW_FIELD(fnw_counters, net_denied),
           FNW_FIELD(fnw_counters, file_checks), FNW_FIELD(fnw_counters, file_violations),
           FNW_FIELD(fnw_counters, file_pending), FNW_FIELD(fnw_counters, file_cache_hits),
           FNW_FIELD(fnw_counters, file_pending_lost), FNW_FIELD(fnw_counters, file_held),
           FNW_FIELD(fnw_counters, file_lsm_denied), FNW_FIELD(fnw_counters, new_roots),
           FNW_FIELD(fnw_counters, process_violations), FNW_FIELD(fnw_counters, process_denied),
           FNW_FIELD(fnw_counters, fail_closed_kills), FNW_FIELD(fnw_counters, coverage_gaps),
           FNW_FIELD(fnw_counters, alert_drops), FNW_FIELD(fnw_counters, birth_drops),
           FNW_FIELD(fnw_counters, violations_aggregated)}}},
        {"fnw_violation_key",
         {sizeof(fnw_violation_key),
          {FNW_FIELD(fnw_violation_key, cgroup_id), FNW_FIELD(fnw_violation_key, type),
           FNW_FIELD(fnw_violation_key, what), FNW_FIELD(fnw_violation_key, detail)}}},
        {"fnw_violation_tally",
         {sizeof(fnw_violation_tally),
          {FNW_FIELD(fnw_violation_tally, window_start_ns), FNW_FIELD(fnw_violation_tally, first_ns),
           FNW_FIELD(fnw_violation_tally, last_ns), FNW_FIELD(fnw_violation_tally, repeats),
           FNW_FIELD(fnw_violation_tally, policy_id), FNW_FIELD(fnw_violation_tally, pad)}}},
    };
    return layouts;
}

class EventLayoutTest : public ::testing::Test {
protected:
    void SetUp() override {
        btf_ = btf__parse(FNW_BPF_OBJECT, nullptr);
        ASSERT_NE(btf_, nullptr) << "cannot read BTF from " << FNW_BPF_OBJECT;
    }
    void TearDown() override { btf__free(btf_); }

    // Size of a member's type in bytes, following typedefs/arrays.
    size_t member_size(const btf_member& m) const {
        __s64 sz = btf__resolve_size(btf_, m.type);
        return sz < 0 ? 0 : static_cast<size_t>(sz);
    }

    struct btf* btf_ = nullptr;
};

TEST_F(EventLayoutTest, EverySharedStructMatchesTheBpfObject) {
    for (const auto& layout : expected_layouts()) {
        // Not a structured binding: clang 14 cannot capture one in a lambda.
        const auto& name = layout.first;
        const auto& expected = layout.second;
        SCOPED_TRACE(name);
        __s32 id = btf__find_by_name_kind(btf_, name.c_str(), BTF_KIND_STRUCT);
        ASSERT_GT(id, 0) << "struct " << name << " is not in the BPF object's BTF (unused on the BPF side?)";
        const btf_type* t = btf__type_by_id(btf_, static_cast<__u32>(id));
        EXPECT_EQ(t->size, expected.size) << "sizeof differs";

        size_t seen = 0;
        // Members of anonymous unions count as the struct's own, at the
        // union's offset (the C++ side names them directly too).
        auto check_members = [&](auto& self, const btf_type* type, size_t base_bits) -> void {
            const btf_member* m = btf_members(type);
            for (__u16 i = 0; i < btf_vlen(type); ++i, ++m) {
                std::string field = btf__name_by_offset(btf_, m->name_off);
                const size_t bits = base_bits + btf_member_bit_offset(type, i);
                if (field.empty()) {
                    const btf_type* inner = btf__type_by_id(btf_, m->type);
                    ASSERT_TRUE(inner && btf_is_union(inner)) << name << ": an anonymous member that is not a union";
                    self(self, inner, bits);
                    continue;
                }
                auto it = expected.fields.find(field);
                if (it == expected.fields.end()) {
                    ADD_FAILURE() << name << "." << field << " exists in BPF but is not checked here";
                    continue;
                }
                ++seen;
                EXPECT_EQ(bits, it->second.offset * 8) << field << " offset";
                EXPECT_EQ(member_size(*m), it->second.size) << field << " size";
            }
        };
        check_members(check_members, t, 0);
        EXPECT_EQ(seen, expected.fields.size()) << "field count differs";
    }
}

}  // namespace
}  // namespace fnw
