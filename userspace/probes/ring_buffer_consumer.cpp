// SPDX-License-Identifier: Apache-2.0
#include "probes/ring_buffer_consumer.hpp"

#include <cerrno>
#include <memory>

#include <bpf/libbpf.h>

namespace fnw {

std::unique_ptr<RingBufferConsumer> RingBufferConsumer::create(const std::vector<int>& ringbuf_map_fds,
                                                               Handler handler) {
    if (ringbuf_map_fds.empty()) {
        errno = EINVAL;
        return nullptr;
    }
    std::unique_ptr<RingBufferConsumer> consumer(new RingBufferConsumer(std::move(handler)));
    consumer->ring_ =
        ring_buffer__new(ringbuf_map_fds.front(), &RingBufferConsumer::on_record, consumer.get(), nullptr);
    if (!consumer->ring_) return nullptr;
    // One epoll fd for all: a wakeup of any ring makes it readable.
    for (size_t i = 1; i < ringbuf_map_fds.size(); ++i)
        if (int err = ring_buffer__add(consumer->ring_, ringbuf_map_fds[i], &RingBufferConsumer::on_record,
                                       consumer.get())) {
            errno = -err;
            return nullptr;
        }
    return consumer;
}

RingBufferConsumer::~RingBufferConsumer() { ring_buffer__free(ring_); }

int RingBufferConsumer::epoll_fd() const { return ring_buffer__epoll_fd(ring_); }

int RingBufferConsumer::drain() {
    budget_ = -1;
    return ring_buffer__consume(ring_);
}

int RingBufferConsumer::drain_some(int max_records) {
    budget_ = max_records;
    taken_ = 0;
    int rc = ring_buffer__consume(ring_);
    budget_ = -1;
    // libbpf advances past a record before calling us, so the record that
    // ended the bite was handled; the stop shows up as our own error code.
    if (rc == -EAGAIN || rc >= 0) return taken_;
    return rc;
}

int RingBufferConsumer::on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBufferConsumer*>(ctx);
    self->handler_(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
    ++self->taken_;
    if (self->budget_ >= 0 && self->taken_ >= self->budget_) return -EAGAIN;  // stop here, come back later
    return 0;
}

}  // namespace fnw
