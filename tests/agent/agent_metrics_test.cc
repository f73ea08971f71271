// The agent's metrics as a scrape computes them from the index: a fake
// queue directory and MPA spool, scanned, then collected.
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/index/queue_index.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/mpa/spool_item.h"
#include "agent/mpa/spool_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/metric_samples.h"
#include "prometheus/registry.h"
#include "tests/testing/fake_filesystem.h"
#include "tests/testing/queue_file_builder.h"

namespace mailfleet {
namespace {

using ::mailfleet::testing::FakeFilesystem;
using ::mailfleet::testing::QueueFileBuilder;
using ::mailfleet::testing::Samples;

class AgentMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.AddDir("/q");
    for (QueueKind q : kPostfixQueues) fs_.AddDir(absl::StrCat("/q/", QueueKindName(q)));
    fs_.AddDir("/spool");
    config_.queue_directory = "/q";
    reader_ = std::make_unique<postfix::QueueReader>(&fs_, config_, 1);
  }

  void PutPostfix(const std::string& path, long arrival) {
    fs_.AddFile(absl::StrCat("/q/", path),
                QueueFileBuilder::Simple("s@example.com", {"a@x.example", "b@y.example"},
                                         {"hi"}, arrival));
  }
  void PutItem(QueueKind queue, const std::string& id) {
    mpa::SpoolEnvelope env;
    env.sender = "alice@example.com";
    env.recipients = {"bob@example.net"};
    env.received = absl::Now() - absl::Minutes(1);
    fs_.AddFile(spool_.ItemPath(queue, id, ".env"), mpa::FormatSpoolEnvelope(env));
    fs_.AddFile(spool_.ItemPath(queue, id, ".eml"), std::string(100, 'x'));
  }

  FakeFilesystem fs_;
  postfix::PostfixConfig config_;
  mpa::SpoolReader spool_{&fs_, "/spool"};
  std::unique_ptr<postfix::QueueReader> reader_;
  prometheus::Registry registry_;
};

TEST_F(AgentMetricsTest, QueuesAgesAndThrottleComeFromTheIndex) {
  const long now = absl::ToUnixSeconds(absl::Now());
  PutPostfix("deferred/4/4B2F1A0F3E", now - 7 * 60);     // 5-10m
  PutPostfix("deferred/5/5C3A2B1D4E", now - 3 * 3600);   // 160-320m
  PutPostfix("deferred/6/6D4B3C2E5F", now - 30 * 3600);  // 1280m+
  PutPostfix("hold/7/7E5C4D3F6A", now - 60);
  for (int i = 0; i < 4; ++i) PutItem(QueueKind::kMpaSpool, absl::StrCat("item", i));
  QueueIndex index(reader_.get(), &spool_, {/*throttle_spool=*/3, 100, 200});
  AgentMetrics metrics(&index, [] { return 2; }, {"gw1", "3.7.11"}, registry_);
  ASSERT_TRUE(index.Rescan().ok());

  std::map<std::string, double> s = Samples(metrics.Collect());
  EXPECT_EQ(s["mailfleet_queue_messages{queue=deferred}"], 3);
  EXPECT_EQ(s["mailfleet_queue_messages{queue=hold}"], 1);
  EXPECT_EQ(s["mailfleet_queue_messages{queue=active}"], 0);
  EXPECT_EQ(s["mailfleet_queue_messages{queue=mpa-spool}"], 4);
  EXPECT_EQ(s["mailfleet_queue_recipients{queue=deferred}"], 6);
  EXPECT_GT(s["mailfleet_queue_bytes{queue=deferred}"], 0);
  EXPECT_EQ(s["mailfleet_queue_bytes{queue=active}"], 0);
  EXPECT_NEAR(s["mailfleet_queue_oldest_age_seconds{queue=deferred}"], 30 * 3600, 60);
  EXPECT_EQ(s["mailfleet_queue_oldest_age_seconds{queue=active}"], 0);
  EXPECT_EQ(s["mailfleet_queue_messages_by_age{queue=deferred,age=0-5m}"], 0);
  EXPECT_EQ(s["mailfleet_queue_messages_by_age{queue=deferred,age=5-10m}"], 1);
  EXPECT_EQ(s["mailfleet_queue_messages_by_age{queue=deferred,age=160-320m}"], 1);
  EXPECT_EQ(s["mailfleet_queue_messages_by_age{queue=deferred,age=1280m+}"], 1);
  EXPECT_EQ(s["mailfleet_queue_messages_by_age{queue=hold,age=0-5m}"], 1);
  EXPECT_EQ(s["mailfleet_mpa_throttle_state{state=throttling}"], 1);
  EXPECT_EQ(s["mailfleet_mpa_throttle_state{state=normal}"], 0);
  EXPECT_EQ(s["mailfleet_mpa_throttle_state{state=refusing}"], 0);
  EXPECT_EQ(s["mailfleet_mpa_throttle_limit{limit=throttle_spool}"], 3);
  EXPECT_EQ(s["mailfleet_watch_subscribers{}"], 2);
  EXPECT_EQ(s["mailfleet_index_generation{}"], index.Current()->generation());
  EXPECT_EQ(s.count(absl::StrCat("mailfleet_agent_info{hostname=gw1,postfix_version=3.7.11,"
                                 "instance_id=",
                                 index.instance_id(), "}")),
            1u);

  // The scan was timed, and the next one too.
  std::map<std::string, double> r = Samples(registry_.Collect());
  EXPECT_EQ(r["mailfleet_scan_duration_seconds{}count"], 1);
  fs_.Remove("/q/hold/7/7E5C4D3F6A");
  ASSERT_TRUE(index.Rescan().ok());
  r = Samples(registry_.Collect());
  EXPECT_EQ(r["mailfleet_scan_duration_seconds{}count"], 2);
  EXPECT_EQ(r["mailfleet_rescan_corrections_total{}"], 1);
  EXPECT_EQ(Samples(metrics.Collect())["mailfleet_queue_messages{queue=hold}"], 0);
}

TEST_F(AgentMetricsTest, WithoutASpoolThereAreNoMpaFigures) {
  PutPostfix("deferred/4/4B2F1A0F3E", 1700000000);
  QueueIndex index(reader_.get());
  AgentMetrics metrics(&index, nullptr, {"gw1", "3.7.11"}, registry_);
  ASSERT_TRUE(index.Rescan().ok());
  std::map<std::string, double> s = Samples(metrics.Collect());
  EXPECT_EQ(s["mailfleet_queue_messages{queue=deferred}"], 1);
  for (const auto& [key, value] : s) {
    EXPECT_EQ(key.find("mpa"), std::string::npos) << key;
  }
  EXPECT_EQ(s["mailfleet_watch_subscribers{}"], 0);
}

}  // namespace
}  // namespace mailfleet
