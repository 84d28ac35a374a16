// The evictd.v1.Status service: answers from the loop's latest snapshot and the executor's history,
// never from the loop itself. Rankings are computed here (the pure core's rank_pods), once per
// snapshot of the pods, and shared by every query until the pods change.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "daemon/status/event_hub.h"
#include "daemon/status/snapshot.h"
#include "ranking/rank.h"
#include "status.grpc.pb.h"

namespace evictd::status {

struct ServiceOptions {
  std::chrono::milliseconds watch_poll{1000};  // how often a quiet stream checks for cancellation
};

// GetStatus and ListPods are served as bytes: each answer is serialized once per snapshot
// (ListPods, the largest — ~60 KB at 1 000 pods — once per snapshot of the pods and signal) and
// handed to every caller as a shared slice, so that a thousand requests a second cost a thousand
// reference counts rather than a thousand builds. They are gRPC raw methods, answered by
// PreserializedCalls (preserialized.h); the other methods are synchronous.
// Every signal's ranking of one snapshot's pods; rank_of[signal][pod index] is 1-based.
struct PodRankings {
  std::shared_ptr<const model::PodView> pods;
  bool swap_aware_ranking = false;
  std::vector<Ranking> rankings;
  std::vector<std::vector<int32_t>> rank_of;
};

using StatusServiceBase =
    v1::Status::WithRawMethod_GetStatus<v1::Status::WithRawMethod_ListPods<v1::Status::Service>>;

class StatusService final : public StatusServiceBase {
 public:
  StatusService(const SnapshotBox& snapshots, HistorySource history, EventHub& events,
                ServiceOptions options = {});

  grpc::Status get_status_bytes(grpc::ByteBuffer* response);
  // The answer GetStatus serves, built from one snapshot.
  void fill_status(const StatusSnapshot& snapshot, v1::NodeStatus* response);
  grpc::Status list_pods_bytes(const grpc::ByteBuffer& request, grpc::ByteBuffer* response);
  // The answer ListPods serves, built from one snapshot.
  grpc::Status list_pods(const StatusSnapshot& snapshot, const v1::ListPodsRequest& request,
                         v1::ListPodsResponse* response);
  grpc::Status Explain(grpc::ServerContext* context, const v1::ExplainRequest* request,
                       v1::ExplainResponse* response) override;
  grpc::Status ListEvictions(grpc::ServerContext* context, const v1::ListEvictionsRequest* request,
                             v1::ListEvictionsResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                     grpc::ServerWriter<v1::Event>* writer) override;

 private:
  std::shared_ptr<const PodRankings> rankings(const StatusSnapshot& snapshot);
  std::shared_ptr<const StatusSnapshot> snapshot_or_unavailable(grpc::Status* status) const;

  const SnapshotBox& snapshots_;
  HistorySource history_;
  EventHub& events_;
  ServiceOptions options_;
  std::mutex rankings_mutex_;
  std::shared_ptr<const PodRankings> rankings_;
  // Serialized ListPods answers by requested signal, for one snapshot of the pods.
  struct ListPodsCache {
    std::shared_ptr<const model::PodView> pods;
    std::shared_ptr<const std::vector<Threshold>> thresholds;
    std::map<std::string, grpc::Slice> by_signal;
  };
  std::mutex list_pods_mutex_;
  ListPodsCache list_pods_cache_;
  std::mutex status_mutex_;
  std::shared_ptr<const StatusSnapshot> status_snapshot_;  // the one status_answer_ was built from
  grpc::Slice status_answer_;
};

// Status queries run at the lowest priority (nice 19, no privilege needed): on a node short of CPU
// the loop, the executor and the runtime go first. Called once on each thread that answers them.
void yield_to_the_loop();

// Conversions, exposed for evictctl's tests and the service's own.
void to_proto(const Event& event, const std::string& epoch, v1::Event* out);
void to_proto(const EvictionView& eviction, v1::EvictionRecord* out);

}  // namespace evictd::status
