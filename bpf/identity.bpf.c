// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Object identity: the (device, inode number, generation) the kernel's
 * dentries carry for a file fnwarden itself holds open.
 *
 * file_rules are keyed on that triple (kernel_abi.h), and userspace has no
 * portable way to read an inode's generation: stat() does not report it,
 * FS_IOC_GETVERSION is per filesystem (ext4 has it, tmpfs does not) and a
 * file handle's layout is private to each filesystem. So userspace opens
 * a rule's object (O_PATH), sets identity_tgid/identity_fd and reads this
 * iterator: one record for that fd, read from the inode itself, the same
 * fields rights_step() reads. No hook on anyone else's path: it runs only
 * when read.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include <fnwarden/kernel_abi.h>

/* Room to build the record (per CPU): a map value, so the struct's layout
 * is in the object's BTF for the layout test like every shared struct. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fnw_object_identity);
} identity_scratch SEC(".maps");

/* Which process's which fd to describe (.bss, set before each read). */
volatile __u32 identity_tgid = 0;
volatile __u32 identity_fd = 0;

SEC("iter/task_file")
int fnw_object_identity(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!task || !file || ctx->fd != identity_fd || BPF_CORE_READ(task, tgid) != identity_tgid)
		return 0;
	__u32 zero = 0;
	struct fnw_object_identity *id = bpf_map_lookup_elem(&identity_scratch, &zero);

	if (!id)
		return 0;
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	id->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	id->ino = BPF_CORE_READ(inode, i_ino);
	id->generation = BPF_CORE_READ(inode, i_generation);
	id->pad = 0;
	bpf_seq_write(ctx->meta->seq, id, sizeof(*id));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
