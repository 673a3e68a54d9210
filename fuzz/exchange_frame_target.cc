// The receiving end of data channels between workers: what
// ExchangeReceiver (worker/remote_exchange.cc) does with the DataFrames a
// peer sends. That logic lives in private gRPC reactor callbacks (OnHeader,
// OnGate, OnFrame) that need a live call, so this target repeats its steps
// against the same public pieces: proto::DataFrame parsing (what gRPC does
// to the bytes), one BatchDecoder per stream, CreditsFor, and a real
// InputGate with its Attach/Deliver/Fail/Poll. Keep it in step with
// ExchangeReceiver.
//
// Input: a sequence of frames, each
//   u8 control | u16 little-endian length | length bytes of a DataFrame
// (a length past the end takes the rest). Bits 0-6 of control, modulo 3,
// pick one of three streams into a gate of two channels (so two streams may
// claim the same channel); with bit 7 set, the task takes everything ready
// from the gate after the frame, else nothing, so senders can run out of
// credit.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/batch_codec.h"
#include "common/clock.h"
#include "fuzz/batch_checks.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/targets.h"
#include "google/protobuf/stubs/logging.h"
#include "proto/sluice.pb.h"
#include "worker/credit.h"
#include "worker/input_gate.h"
#include "worker/mailbox.h"

namespace sluice::fuzz {
namespace {

constexpr int kChannels = 2;
constexpr int kStreams = 3;
constexpr int kCreditsPerChannel = 4;

// The sender's side of the credit, as the gate hands it back.
class Sender : public CreditListener {
 public:
  void OnCredit(int credits) override {
    FUZZ_CHECK(credits > 0, "credit handed back is positive");
    returned += credits;
  }
  void OnGateClosed(const absl::Status& reason) override {
    FUZZ_CHECK(!reason.ok(), "a gate closes with a reason");
    closed = true;
  }
  int64_t returned = 0;
  bool closed = false;
};

// One Exchange call, as ExchangeReceiver keeps it.
struct Stream {
  BatchDecoder decoder;
  int channel = -1;       // set by the header
  bool attached = false;  // OnGate attached it to the gate
  bool finished = false;  // FinishOnce was called: no more reads
  bool eos = false;       // the gate took end of stream from it
  std::shared_ptr<Sender> sender = std::make_shared<Sender>();
  int64_t delivered_credits = 0;
};

class Receiver {
 public:
  Receiver()
      : mailbox_(std::make_shared<Mailbox>(&clock_)),
        gate_(kChannels, kCreditsPerChannel, mailbox_),
        barriers_(MakeAlignedBarrierHandler(kChannels, &gate_, &clock_)) {}

  void OnFrameBytes(Stream& s, const uint8_t* data, size_t size) {
    if (s.finished) return;
    proto::DataFrame frame;
    if (!frame.ParseFromArray(data, static_cast<int>(size))) {
      // gRPC fails the read: OnReadDone(false), as when the sender dies.
      if (s.attached && !s.eos) gate_.Fail(absl::UnavailableError("lost input"));
      s.finished = true;
      return;
    }
    if (s.channel < 0) {
      OnHeader(s, frame);
    } else {
      OnFrame(s, frame);
    }
  }

  // The task takes what is ready, as its loop does between mails, until
  // the gate has nothing, fails, or reports the end of input (then the
  // task is done and polls no more).
  void Drain() {
    for (int i = 0; i < 256 && !done_; ++i) {
      clock_.Advance(1);
      absl::StatusOr<std::optional<InputGate::Event>> ev = gate_.Poll();
      if (!ev.ok()) {
        done_ = true;  // the task fails with the gate's error
        return;
      }
      if (!ev->has_value()) return;
      const InputGate::Event& e = **ev;
      switch (e.kind) {
        case InputGate::Event::Kind::kBatch:
          CheckWellFormed(e.batch);
          break;
        case InputGate::Event::Kind::kWatermark:
          FUZZ_CHECK(!watermark_.has_value() || e.watermark > *watermark_,
                     "the combined watermark only advances");
          watermark_ = e.watermark;
          break;
        case InputGate::Event::Kind::kBarrier:
          FUZZ_CHECK(e.channel >= 0 && e.channel < kChannels, "a barrier names its channel");
          Aligned(barriers_->OnBarrier(e.channel, e.barrier));
          break;
        case InputGate::Event::Kind::kChannelEnded:
          FUZZ_CHECK(e.channel >= 0 && e.channel < kChannels, "an end names its channel");
          Aligned(barriers_->OnChannelEnded(e.channel));
          break;
        case InputGate::Event::Kind::kEnd:
          done_ = true;
          return;
      }
    }
  }

  void Finish(std::vector<Stream>& streams) {
    Drain();
    gate_.Close(absl::CancelledError("the task ended"));
    for (const Stream& s : streams) {
      FUZZ_CHECK(s.sender->returned <= s.delivered_credits,
                 "a gate hands back no more credit than it took");
      FUZZ_CHECK(!s.attached || s.sender->closed, "an attached sender hears the gate close");
    }
  }

 private:
  // The barrier handler says a barrier is aligned, as the task hears it.
  void Aligned(const std::optional<AlignedBarrier>& b) {
    if (!b.has_value()) return;
    FUZZ_CHECK(b->barrier.id > last_barrier_, "aligned barriers only advance");
    FUZZ_CHECK(b->alignment_ms >= 0, "alignment takes no negative time");
    last_barrier_ = b->barrier.id;
  }

  void OnHeader(Stream& s, const proto::DataFrame& frame) {
    if (!frame.has_header()) {
      s.finished = true;  // INVALID_ARGUMENT: the first frame must carry the header
      return;
    }
    // The registry finds the gate by (job, attempt, task, subtask); here
    // every header names this one.
    s.channel = frame.header().channel();
    absl::StatusOr<int> credits = gate_.Attach(s.channel, s.sender);
    if (!credits.ok()) {
      s.finished = true;
      return;
    }
    FUZZ_CHECK(*credits >= 0 && *credits <= kCreditsPerChannel, "initial credit within capacity");
    s.attached = true;
  }

  void OnFrame(Stream& s, const proto::DataFrame& frame) {
    if (!s.attached) return;  // OnGate failed: the stream finished
    StreamElement element;
    switch (frame.element_case()) {
      case proto::DataFrame::kBatch: {
        absl::StatusOr<Batch> batch = s.decoder.Decode(frame.batch());
        if (!batch.ok()) {
          ProtocolError(s, batch.status());
          return;
        }
        CheckWellFormed(*batch);
        element = StreamElement::Records(std::move(*batch));
        break;
      }
      case proto::DataFrame::kWatermark:
        element = StreamElement::Watermark(frame.watermark());
        break;
      case proto::DataFrame::kBarrier: {
        const proto::Barrier& b = frame.barrier();
        element = StreamElement::Barrier(
            {b.checkpoint_id(), b.timestamp_ms(), b.kind(), b.savepoint_name()});
        break;
      }
      case proto::DataFrame::kEndOfStream:
        element = StreamElement::EndOfStream();
        break;
      default:
        ProtocolError(s, absl::InvalidArgumentError("empty data frame"));
        return;
    }
    const int credits = frame.element_case() == proto::DataFrame::kBatch
                            ? CreditsFor(frame.batch().size(), gate_.credits_per_channel())
                            : 0;
    FUZZ_CHECK(credits >= 0 && credits <= kCreditsPerChannel, "a frame costs at most a channel");
    const bool eos = element.kind == StreamElement::Kind::kEndOfStream;
    const absl::Status status = gate_.Deliver(s.channel, std::move(element), credits);
    if (!status.ok()) {
      if (absl::IsResourceExhausted(status)) {
        ProtocolError(s, status);  // the sender exceeded its credit
      } else {
        s.finished = true;  // the receiving task ended
      }
      return;
    }
    s.delivered_credits += credits;
    if (eos) s.eos = true;
  }

  void ProtocolError(Stream& s, const absl::Status& error) {
    FUZZ_CHECK(!error.ok(), "a protocol error is an error");
    gate_.Fail(absl::InternalError(absl::StrCat("bad input: ", error.message())));
    s.finished = true;
  }

  ManualClock clock_;
  std::shared_ptr<Mailbox> mailbox_;
  InputGate gate_;
  std::unique_ptr<BarrierHandler> barriers_;
  std::optional<int64_t> watermark_;
  int64_t last_barrier_ = 0;
  bool done_ = false;
};

}  // namespace

int FuzzExchangeFrame(const uint8_t* data, size_t size) {
  // Invalid UTF-8 in a string field is ordinary input here (the parse fails
  // as gRPC's would); protobuf's log line about it is noise.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  std::vector<Stream> streams(kStreams);
  Receiver receiver;
  size_t at = 0;
  while (at < size) {
    const uint8_t control = data[at++];
    size_t len = 0;
    if (size - at >= 2) {
      len = data[at] | size_t{data[at + 1]} << 8;
      at += 2;
    } else {
      at = size;
    }
    const size_t n = std::min(len, size - at);
    receiver.OnFrameBytes(streams[(control & 0x7f) % kStreams], data + at, n);
    at += n;
    if (control & 0x80) receiver.Drain();
  }
  receiver.Finish(streams);
  return 0;
}

}  // namespace sluice::fuzz
