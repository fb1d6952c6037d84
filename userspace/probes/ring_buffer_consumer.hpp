// SPDX-License-Identifier: Apache-2.0
// Reads records from the BPF ring buffers and hands them to a callback.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

struct ring_buffer;

namespace fnw {

class RingBufferConsumer {
public:
    using Handler = std::function<void(std::span<const std::byte> record)>;

    // Every ring of the probe set (ProbeSet::ringbuf_fds()), read in the
    // order given: a bounded bite (drain_some) takes from the first ring
    // first, so the alerts ring is never starved by a flood in the other.
    // Returns nullptr (and sets errno) when libbpf cannot set a ring up.
    static std::unique_ptr<RingBufferConsumer> create(const std::vector<int>& ringbuf_map_fds, Handler handler);
    ~RingBufferConsumer();
    RingBufferConsumer(const RingBufferConsumer&) = delete;
    RingBufferConsumer& operator=(const RingBufferConsumer&) = delete;

    // epoll fd that becomes readable when the kernel forces a wakeup.
    int epoll_fd() const;

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
    explicit RingBufferConsumer(Handler handler) : handler_(std::move(handler)) {}
    static int on_record(void* ctx, void* data, size_t size);

    Handler handler_;
    ring_buffer* ring_ = nullptr;
    int budget_ = -1;  // records left in this drain_some(); -1 = unbounded
    int taken_ = 0;
};

}  // namespace fnw
