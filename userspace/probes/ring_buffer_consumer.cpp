// SPDX-License-Identifier: Apache-2.0
#include "probes/ring_buffer_consumer.hpp"

#include <linux/bpf.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include <bpf/bpf.h>

namespace fnw {
namespace {

// Where the consumer tells the kernel it has read up to, at most once per
// this many bytes (and at the end of every read). libbpf stores it after
// every record: the cache line then moves between the consumer's CPU and
// the producer's (which reads it in every bpf_ringbuf_reserve) once per
// record, and a traced flood was read at under half its production rate.
constexpr uint64_t kPublishEveryBytes = 64 * 1024;

uint64_t load_acquire(const void* at) {
    return __atomic_load_n(static_cast<const uint64_t*>(at), __ATOMIC_ACQUIRE);
}

}  // namespace

std::unique_ptr<RingBufferConsumer> RingBufferConsumer::create(const std::vector<int>& ringbuf_map_fds,
                                                               Handler handler) {
    if (ringbuf_map_fds.empty()) {
        errno = EINVAL;
        return nullptr;
    }
    std::unique_ptr<RingBufferConsumer> consumer(new RingBufferConsumer(std::move(handler)));
    consumer->page_size_ = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    // One epoll fd for all: a wakeup of any ring makes it readable.
    consumer->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!consumer->epoll_.valid()) return nullptr;
    for (int fd : ringbuf_map_fds)
        if (!consumer->map_ring(fd)) return nullptr;
    return consumer;
}

bool RingBufferConsumer::map_ring(int map_fd) {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (int err = bpf_obj_get_info_by_fd(map_fd, &info, &len)) {
        errno = -err;
        return false;
    }
    if (info.type != BPF_MAP_TYPE_RINGBUF || info.max_entries == 0 ||
        (info.max_entries & (info.max_entries - 1)) != 0) {
        errno = EINVAL;
        return false;
    }
    Ring ring;
    ring.mask = info.max_entries - 1;
    ring.consumer_page = ::mmap(nullptr, page_size_, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    if (ring.consumer_page == MAP_FAILED) return false;
    ring.producer_area_bytes = page_size_ + 2 * size_t{info.max_entries};
    ring.producer_area = ::mmap(nullptr, ring.producer_area_bytes, PROT_READ, MAP_SHARED, map_fd,
                                static_cast<off_t>(page_size_));
    if (ring.producer_area == MAP_FAILED) {
        ::munmap(ring.consumer_page, page_size_);
        return false;
    }
    rings_.push_back(ring);  // unmapped by the destructor from here on
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(rings_.size() - 1);
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, map_fd, &ev) == 0;
}

RingBufferConsumer::~RingBufferConsumer() {
    for (const Ring& ring : rings_) {
        ::munmap(ring.consumer_page, page_size_);
        ::munmap(ring.producer_area, ring.producer_area_bytes);
    }
}

// The record layout and the protocol are the kernel's (kernel/bpf/ringbuf.c):
// an 8-byte header whose length word has BUSY set until the producer
// commits and DISCARD for a record it gave up; records are 8-byte aligned.
int RingBufferConsumer::read_ring(const Ring& ring, int64_t budget) {
    auto* consumer_pos = static_cast<uint64_t*>(ring.consumer_page);
    const auto* data = static_cast<const std::byte*>(ring.producer_area) + page_size_;
    uint64_t cons = load_acquire(consumer_pos);
    uint64_t published = cons;
    int taken = 0;
    for (uint64_t prod = load_acquire(ring.producer_area); cons < prod || (prod = load_acquire(ring.producer_area)) > cons;) {
        if (budget >= 0 && taken >= budget) break;
        const std::byte* header = data + (cons & ring.mask);
        const uint32_t word = __atomic_load_n(reinterpret_cast<const uint32_t*>(header), __ATOMIC_ACQUIRE);
        if (word & BPF_RINGBUF_BUSY_BIT) break;  // reserved, not committed yet: the next read takes it
        const uint32_t length = word & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
        cons += (uint64_t{length} + BPF_RINGBUF_HDR_SZ + 7) & ~uint64_t{7};
        if (!(word & BPF_RINGBUF_DISCARD_BIT)) {
            handler_(std::span<const std::byte>(header + BPF_RINGBUF_HDR_SZ, length));
            ++taken;
        }
        if (cons - published >= kPublishEveryBytes) {
            __atomic_store_n(consumer_pos, cons, __ATOMIC_RELEASE);
            published = cons;
        }
    }
    if (cons != published) __atomic_store_n(consumer_pos, cons, __ATOMIC_RELEASE);
    return taken;
}

int RingBufferConsumer::drain() {
    int total = 0;
    for (const Ring& ring : rings_) total += read_ring(ring, -1);
    return total;
}

int RingBufferConsumer::drain_some(int max_records) {
    int total = 0;
    for (const Ring& ring : rings_) {
        if (total >= max_records) break;
        total += read_ring(ring, max_records - total);
    }
    return total;
}

}  // namespace fnw
