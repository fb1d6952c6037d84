// SPDX-License-Identifier: Apache-2.0
// Reads records from the BPF ring buffers and hands them to a callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "common/unique_fd.hpp"

namespace fnw {

class RingBufferConsumer {
public:
    using Handler = std::function<void(std::span<const std::byte> record)>;

    // Every ring of the probe set (ProbeSet::ringbuf_fds()), read in the
    // order given: a bounded bite (drain_some) takes from the first ring
    // first, so the alerts ring is never starved by a flood in the other.
    // Returns nullptr (and sets errno) when a ring cannot be mapped.
    static std::unique_ptr<RingBufferConsumer> create(const std::vector<int>& ringbuf_map_fds, Handler handler);
    ~RingBufferConsumer();
    RingBufferConsumer(const RingBufferConsumer&) = delete;
    RingBufferConsumer& operator=(const RingBufferConsumer&) = delete;

    // epoll fd that becomes readable when the kernel forces a wakeup.
    int epoll_fd() const { return epoll_.get(); }

    // Reads everything pending, woken or not. The producers submit with
    // BPF_RB_NO_WAKEUP below a threshold, so callers must drain on a timer
    // too: that timer is the latency bound. Returns records read or -errno.
    int drain();
    // Reads at most `max_records`: under a flood the producers refill the
    // ring as fast as it is read and drain() would never return, so an event
    // loop that must also answer clients takes bounded bites. Returns the
    // records read (== max_records: more may be pending) or -errno.
    int drain_some(int max_records);

private:
    // One ring, mapped as libbpf maps it: the consumer position page
    // (writable), then the producer position page and the data, twice in a
    // row so that a record that wraps is contiguous.
    struct Ring {
        void* consumer_page = nullptr;
        void* producer_area = nullptr;
        size_t producer_area_bytes = 0;
        uint64_t mask = 0;  // data size - 1 (a power of two)
    };

    explicit RingBufferConsumer(Handler handler) : handler_(std::move(handler)) {}
    bool map_ring(int map_fd);
    // Up to `budget` records of one ring (-1: all); the count read.
    int read_ring(const Ring& ring, int64_t budget);

    Handler handler_;
    std::vector<Ring> rings_;
    UniqueFd epoll_;
    size_t page_size_ = 4096;
};

}  // namespace fnw
