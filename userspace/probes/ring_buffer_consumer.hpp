// Reads records from the BPF ring buffer and hands them to a callback.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>

struct ring_buffer;

namespace fnw {

class RingBufferConsumer {
public:
    using Handler = std::function<void(std::span<const std::byte> record)>;

    // Returns nullptr (and sets errno) when libbpf cannot set the ring up.
    static std::unique_ptr<RingBufferConsumer> create(int ringbuf_map_fd, Handler handler);
    ~RingBufferConsumer();
    RingBufferConsumer(const RingBufferConsumer&) = delete;
    RingBufferConsumer& operator=(const RingBufferConsumer&) = delete;

    // epoll fd that becomes readable when the kernel forces a wakeup.
    int epoll_fd() const;

    // Reads everything pending, woken or not. The producers submit with
    // BPF_RB_NO_WAKEUP below a threshold, so callers must drain on a timer
    // too: that timer is the latency bound. Returns records read or -errno.
    int drain();

private:
    explicit RingBufferConsumer(Handler handler) : handler_(std::move(handler)) {}
    static int on_record(void* ctx, void* data, size_t size);

    Handler handler_;
    ring_buffer* ring_ = nullptr;
};

}  // namespace fnw
