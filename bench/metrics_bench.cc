// The /metrics scrape: rendering the registry and a full HTTP GET through evictd's /metrics server,
// with 1 000 evicted pods in kube_pod_status_reason (two series each) beside every other metric.
#include <benchmark/benchmark.h>
#include <curl/curl.h>

#include <string>

#include "daemon/metrics/metrics.h"

namespace {

using evictd::metrics::Metrics;

std::unique_ptr<Metrics> filled(int pods) {
  auto metrics = std::make_unique<Metrics>("0.1.0");
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < pods; ++i) {
    metrics->pod_evicted("namespace-" + std::to_string(i % 20), "pod-" + std::to_string(i),
                         "00000000-0000-4000-8000-" + std::to_string(100000000000 + i), true, now);
  }
  evictd::Observations observations;
  for (auto signal : evictd::kAllSignals)
    observations.set(signal, evictd::SignalObservation{1 << 30, 8LL << 30, {}});
  metrics->observe_signals(observations, {});
  for (int i = 0; i < 100; ++i) {
    metrics->eviction_decided("memory.available", 0.5, 0.001);
    metrics->sample_finished(0.002);
    metrics->eviction_finished(0.2);
  }
  return metrics;
}

void BM_Render(benchmark::State& state) {
  const auto metrics = filled(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = metrics->render();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render)->Arg(0)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_HttpScrape(benchmark::State& state) {
  const auto metrics = filled(static_cast<int>(state.range(0)));
  if (!metrics->serve("127.0.0.1:19851")) {
    state.SkipWithError("cannot listen on 127.0.0.1:19851");
    return;
  }
  CURL* handle = curl_easy_init();
  std::string body;
  curl_easy_setopt(handle, CURLOPT_URL, "http://127.0.0.1:19851/metrics");
  curl_easy_setopt(
      handle, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* out) {
        static_cast<std::string*>(out)->append(data, size * count);
        return size * count;
      });
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body);
  // A connection per scrape: evictd's server closes each one after the response.
  curl_easy_setopt(handle, CURLOPT_FORBID_REUSE, 1L);
  for (auto _ : state) {
    body.clear();
    if (const CURLcode code = curl_easy_perform(handle); code != CURLE_OK) {
      state.SkipWithError(curl_easy_strerror(code));
      break;
    }
  }
  state.counters["bytes"] = static_cast<double>(body.size());
  curl_easy_cleanup(handle);
}
BENCHMARK(BM_HttpScrape)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
