#include "probes/ring_buffer_consumer.hpp"

#include <memory>

#include <bpf/libbpf.h>

namespace fnw {

std::unique_ptr<RingBufferConsumer> RingBufferConsumer::create(int ringbuf_map_fd, Handler handler) {
    std::unique_ptr<RingBufferConsumer> consumer(new RingBufferConsumer(std::move(handler)));
    consumer->ring_ = ring_buffer__new(ringbuf_map_fd, &RingBufferConsumer::on_record, consumer.get(), nullptr);
    if (!consumer->ring_) return nullptr;
    return consumer;
}

RingBufferConsumer::~RingBufferConsumer() { ring_buffer__free(ring_); }

int RingBufferConsumer::epoll_fd() const { return ring_buffer__epoll_fd(ring_); }

int RingBufferConsumer::drain() { return ring_buffer__consume(ring_); }

int RingBufferConsumer::on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBufferConsumer*>(ctx);
    self->handler_(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
    return 0;
}

}  // namespace fnw
