// The CRI client's error paths against an in-process fake runtime on a unix socket: NOT_FOUND
// counts as done, deadlines, UNAVAILABLE while the runtime is down and reconnection when it is
// back, dry-run.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "daemon/cri/runtime_pods.h"

namespace evictd::cri {
namespace {

using runtime::v1::RuntimeService;

class FakeRuntime final : public RuntimeService::Service {
 public:
  grpc::Status Version(grpc::ServerContext*, const runtime::v1::VersionRequest*,
                       runtime::v1::VersionResponse* response) override {
    response->set_runtime_name("fake");
    response->set_runtime_version("0.1");
    response->set_runtime_api_version("v1");
    return grpc::Status::OK;
  }
  grpc::Status ListPodSandbox(grpc::ServerContext*, const runtime::v1::ListPodSandboxRequest*,
                              runtime::v1::ListPodSandboxResponse* response) override {
    auto* labelled = response->add_items();
    labelled->set_id("sandbox-a");
    (*labelled->mutable_labels())[kPodUidLabel] = "uid-a";
    (*labelled->mutable_labels())[kPodNameLabel] = "a";
    (*labelled->mutable_labels())[kPodNamespaceLabel] = "ns";
    auto* bare = response->add_items();  // no kubelet labels: metadata is used
    bare->set_id("sandbox-b");
    bare->mutable_metadata()->set_uid("uid-b");
    bare->mutable_metadata()->set_name("b");
    bare->mutable_metadata()->set_namespace_("ns");
    return grpc::Status::OK;
  }
  grpc::Status ListContainers(grpc::ServerContext*, const runtime::v1::ListContainersRequest*,
                              runtime::v1::ListContainersResponse* response) override {
    for (const char* id : {"c1", "c2"}) {
      auto* c = response->add_containers();
      c->set_id(id);
      c->set_pod_sandbox_id("sandbox-a");
      c->set_state(runtime::v1::CONTAINER_RUNNING);
      (*c->mutable_labels())[kContainerNameLabel] = std::string("name-") + id;
    }
    auto* other = response->add_containers();
    other->set_id("c3");
    other->set_pod_sandbox_id("sandbox-gone");
    other->set_state(runtime::v1::CONTAINER_EXITED);
    return grpc::Status::OK;
  }
  grpc::Status StopContainer(grpc::ServerContext*, const runtime::v1::StopContainerRequest* request,
                             runtime::v1::StopContainerResponse*) override {
    ++stop_calls;
    last_timeout = request->timeout();
    std::this_thread::sleep_for(stop_delay);
    if (!known.contains(request->container_id())) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "container not found");
    }
    return grpc::Status::OK;
  }
  grpc::Status StopPodSandbox(grpc::ServerContext*, const runtime::v1::StopPodSandboxRequest*,
                              runtime::v1::StopPodSandboxResponse*) override {
    ++stop_calls;
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "sandbox not found");
  }

  std::atomic<int> stop_calls{0};
  std::atomic<int64_t> last_timeout{-1};
  std::set<std::string> known = {"c1"};
  std::chrono::milliseconds stop_delay{0};
};

class CriClientTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "evictd-cri-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    start_server();
    CriConfig config;
    config.endpoint = "unix://" + dir_ + "/runtime.sock";
    config.call_timeout = std::chrono::milliseconds(500);
    client_ = std::make_unique<CriClient>(config);
  }
  void TearDown() override {
    if (server_)
      server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  void start_server() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + dir_ + "/runtime.sock", grpc::InsecureServerCredentials());
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
  }

  std::string dir_;
  FakeRuntime fake_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<CriClient> client_;
};

TEST_F(CriClientTest, VersionAndDiscovery) {
  auto version = client_->version();
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_EQ(version->runtime_name, "fake");
  EXPECT_EQ(version->runtime_api_version, "v1");
  auto pods = discover_pods(*client_);
  ASSERT_TRUE(pods.ok()) << pods.error().message;
  ASSERT_EQ(pods->size(), 2U);
  EXPECT_EQ((*pods)[0].uid, "uid-a");
  EXPECT_EQ((*pods)[0].name, "a");
  ASSERT_EQ((*pods)[0].containers.size(), 2U);
  EXPECT_EQ((*pods)[0].containers[1].name, "name-c2");
  EXPECT_EQ((*pods)[1].uid, "uid-b");
  EXPECT_EQ((*pods)[1].namespace_name, "ns");
  EXPECT_TRUE((*pods)[1].containers.empty());
}

TEST_F(CriClientTest, NotFoundCountsAsDoneAndGraceHasTheKubeletsFloor) {
  auto pods = discover_pods(*client_);
  ASSERT_TRUE(pods.ok());
  PodStopper stopper(*client_, false, std::chrono::seconds(1));
  const StopReport report = stopper.stop((*pods)[0], 1, false);  // c2 and the sandbox are gone
  EXPECT_TRUE(report.stopped);
  ASSERT_EQ(report.steps.size(), 3U);
  EXPECT_EQ(fake_.last_timeout.load(), 2);  // a graceful stop gets at least 2 s
  int already_gone = 0;
  for (const auto& step : report.steps)
    already_gone += step.detail == "already gone" ? 1 : 0;
  EXPECT_EQ(already_gone, 2);
  EXPECT_TRUE(stopper.stop((*pods)[0], 30, true).stopped);
  EXPECT_EQ(fake_.last_timeout.load(), 0);  // a hard stop waits for nothing
}

TEST_F(CriClientTest, DeadlineExceededIsAnErrorNotAHang) {
  fake_.stop_delay = std::chrono::milliseconds(1500);
  const auto started = std::chrono::steady_clock::now();
  auto stopped = client_->stop_container("c1", 0, std::chrono::milliseconds(200));
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code, kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1000));
  auto pods = discover_pods(*client_);
  ASSERT_TRUE(pods.ok());
  PodStopper stopper(*client_, false, std::chrono::milliseconds(200));
  const StopReport report = stopper.stop((*pods)[0], 1, true);
  EXPECT_FALSE(report.stopped);
  EXPECT_NE(report.steps[0].detail.find("DEADLINE_EXCEEDED"), std::string::npos);
}

TEST_F(CriClientTest, UnavailableWhileDownThenReconnects) {
  ASSERT_TRUE(client_->version().ok());
  server_->Shutdown();
  server_.reset();
  auto down = client_->version();
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(down.error().code == kUnavailable || down.error().code == kDeadlineExceeded)
      << down.error().message;
  std::filesystem::remove(dir_ + "/runtime.sock");
  start_server();
  bool back = false;
  for (int i = 0; i < 60 && !back; ++i) {
    back = client_->version().ok();
    if (!back)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(back);
}

TEST_F(CriClientTest, DryRunMakesNoMutatingCall) {
  auto pods = discover_pods(*client_);
  ASSERT_TRUE(pods.ok());
  PodStopper stopper(*client_, true);
  const StopReport report = stopper.stop((*pods)[0], 5, false);
  EXPECT_TRUE(report.stopped);
  EXPECT_EQ(fake_.stop_calls.load(), 0);
  for (const auto& step : report.steps)
    EXPECT_EQ(step.detail, "dry-run");
  NodeResourceReclaimer reclaimer(*client_, true, Nanos{0});
  const ReclaimReport containers = reclaimer.delete_unused_containers();
  EXPECT_EQ(containers.removed, std::vector<std::string>{"c3"});  // reported, not removed
}

}  // namespace
}  // namespace evictd::cri
