#pragma once

// Helpers of the window operator's tests: a spec with every aggregate over
// the input's field `v`, keyed by `dev` unless told otherwise, an opened
// operator, and the input's schema.

#include <memory>
#include <string>
#include <vector>

#include "catalog/typed_kind.h"
#include "common/batch.h"
#include "proto/sluice.pb.h"
#include "worker/operators/window/window.pb.h"
#include "worker/operators/window/window_operator.h"

namespace sluice::testing_window {

inline proto::OperatorSpec WindowSpec(const std::vector<std::string>& key_by = {"dev"}) {
  proto::OperatorSpec spec;
  spec.set_id("w");
  proto::WindowConfig w;
  for (const auto& k : key_by) w.add_key_by(k);
  w.set_type("tumbling");
  w.set_size_ms(1000);
  auto add = [&](const char* name, proto::AggregateFunction f, const char* field) {
    auto* a = w.add_aggregates();
    a->set_name(name);
    a->set_function(f);
    a->set_field(field);
  };
  add("n", proto::AGGREGATE_COUNT, "");
  add("total", proto::AGGREGATE_SUM, "v");
  add("lo", proto::AGGREGATE_MIN, "v");
  add("hi", proto::AGGREGATE_MAX, "v");
  add("mean", proto::AGGREGATE_AVG, "v");
  spec.mutable_config()->PackFrom(w);
  return spec;
}

// The window settings packed in `spec` (a spec of WindowSpec()).
inline proto::WindowConfig WindowSettings(const proto::OperatorSpec& spec) {
  return *UnpackSettings<proto::WindowConfig>(spec);
}

// A window operator of `spec`, opened with its state in a private
// directory; `open` is how that went.
struct OpenedWindow {
  explicit OpenedWindow(proto::OperatorSpec s) : spec(std::move(s)), op(WindowSettings(spec)) {
    OperatorContext ctx;
    ctx.spec = &spec;
    open = op.Open(ctx);
  }
  proto::OperatorSpec spec;
  WindowOperator op;
  absl::Status open;
};

inline SchemaRef InputSchema() {
  return std::make_shared<const Schema>(
      std::vector<Field>{{"dev", FieldType::kString}, {"v", FieldType::kDouble}});
}

struct Expected {
  int64_t n = 0;
  double total = 0, lo = 1e300, hi = -1e300;
};

}  // namespace sluice::testing_window
