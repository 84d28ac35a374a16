// An open-loop load on the status API: `threads` clients together send `rate` requests per second
// (GetStatus and ListPods alternating, or one of them), each on its own schedule so that a slow
// answer does not lower the offered rate; every answer's latency is kept.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "status.grpc.pb.h"

namespace evictd::bench {

// kListPodsBytes: ListPods whose answer the client takes as bytes, unparsed (what the server costs
// without the client's own parsing of ~60 KB).
enum class StatusCalls { kBoth, kGetStatus, kListPods, kListPodsBytes };

class StatusLoad {
 public:
  StatusLoad(std::string target, double rate, int threads, StatusCalls calls)
      : target_(std::move(target)), rate_(rate), threads_(threads), calls_(calls) {}
  ~StatusLoad() { stop(); }

  void start() {
    for (int i = 0; i < threads_; ++i)
      workers_.emplace_back([this, i] { run(i); });
  }
  void stop() {
    stopping_ = true;
    for (auto& worker : workers_)
      worker.join();
    workers_.clear();
  }
  // Milliseconds, per call.
  std::vector<double> get_status_ms() const { return get_status_; }
  std::vector<double> list_pods_ms() const { return list_pods_; }
  int failures() const { return failures_; }
  // The CPU the clients themselves spent (calls, parsing the answers), to tell it from the
  // server's in a process that runs both.
  double client_cpu_seconds() const { return client_cpu_; }
  double offered() const { return offered_; }

 private:
  void run(int index) {
    auto channel = grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
    auto stub = v1::Status::NewStub(channel);
    grpc::GenericStub generic(channel);
    const auto interval = std::chrono::duration<double>(threads_ / rate_);
    auto next = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval * index /
                                                                                threads_);
    std::vector<double> get_status, list_pods;
    int failures = 0;
    int sent = 0;
    for (uint64_t n = static_cast<uint64_t>(index); !stopping_; ++n) {
      std::this_thread::sleep_until(next);
      next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
      const bool status_call =
          calls_ == StatusCalls::kGetStatus || (calls_ == StatusCalls::kBoth && n % 2 == 0);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      const auto begin = std::chrono::steady_clock::now();
      grpc::Status status;
      if (status_call) {
        v1::NodeStatus response;
        status = stub->GetStatus(&context, {}, &response);
      } else if (calls_ == StatusCalls::kListPodsBytes) {
        status = list_pods_bytes(generic, context);
      } else {
        v1::ListPodsResponse response;
        status = stub->ListPods(&context, {}, &response);
      }
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin)
              .count();
      ++sent;
      if (!status.ok())
        ++failures;
      else
        (status_call ? get_status : list_pods).push_back(ms);
    }
    timespec cpu{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    std::lock_guard lock(mutex_);
    client_cpu_ += static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
    get_status_.insert(get_status_.end(), get_status.begin(), get_status.end());
    list_pods_.insert(list_pods_.end(), list_pods.begin(), list_pods.end());
    failures_ += failures;
    offered_ += sent;
  }

  static grpc::Status list_pods_bytes(grpc::GenericStub& generic, grpc::ClientContext& context) {
    grpc::ByteBuffer request;
    bool own = false;
    if (!grpc::SerializationTraits<v1::ListPodsRequest>::Serialize(v1::ListPodsRequest(), &request,
                                                                   &own)
             .ok())
      return grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize the request");
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, "/evictd.v1.Status/ListPods", grpc::StubOptions(), &request,
                      &response, [&done](grpc::Status status) { done.set_value(status); });
    return done.get_future().get();
  }

  std::string target_;
  double rate_;
  int threads_;
  StatusCalls calls_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::vector<double> get_status_, list_pods_;
  int failures_ = 0;
  double offered_ = 0;
  double client_cpu_ = 0;
};

}  // namespace evictd::bench
