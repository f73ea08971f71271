// The fleet total of gateways' summaries.
#include "controller/service/summary_total.h"

#include "gtest/gtest.h"

namespace mailfleet::controller {
namespace {

v1::QueueSummary Gateway(int64_t deferred, int64_t oldest_seconds, const std::string& oldest_id,
                         v1::MpaThrottle::State state) {
  v1::QueueSummary s;
  v1::QueueStats* q = s.add_queues();
  q->set_queue(v1::POSTFIX_DEFERRED);
  q->set_messages(deferred);
  q->set_bytes(deferred * 100);
  q->mutable_oldest_arrival()->set_seconds(oldest_seconds);
  q->add_age_buckets(deferred);
  q->add_age_buckets(1);
  s.set_total_messages(deferred);
  s.set_total_bytes(deferred * 100);
  s.mutable_oldest_arrival()->set_seconds(oldest_seconds);
  s.set_oldest_queue_id(oldest_id);
  s.set_oldest_queue(v1::POSTFIX_DEFERRED);
  s.add_age_bucket_bounds()->set_seconds(300);
  s.set_scan_problem_count(1);
  s.mutable_mpa_throttle()->set_state(state);
  s.mutable_mpa_throttle()->set_spool_items(deferred);
  s.mutable_mpa_throttle()->mutable_limits()->set_refuse_spool(5000);
  return s;
}

TEST(SummaryTotalTest, AddsQueuesAndKeepsTheOldestMessageOfAll) {
  SummaryTotal total;
  total.Add("gw-a", Gateway(3, 2000, "AAAAAA1", v1::MpaThrottle::NORMAL));
  total.Add("gw-b", Gateway(5, 1000, "BBBBBB1", v1::MpaThrottle::REFUSING));
  total.Add("gw-c", Gateway(7, 1500, "CCCCCC1", v1::MpaThrottle::THROTTLING));
  const v1::QueueSummary t = total.Total(10);
  ASSERT_EQ(t.queues_size(), 1);
  EXPECT_EQ(t.queues(0).messages(), 15);
  EXPECT_EQ(t.queues(0).bytes(), 1500);
  EXPECT_EQ(t.queues(0).oldest_arrival().seconds(), 1000);
  ASSERT_EQ(t.queues(0).age_buckets_size(), 2);
  EXPECT_EQ(t.queues(0).age_buckets(0), 15);
  EXPECT_EQ(t.queues(0).age_buckets(1), 3);
  EXPECT_EQ(t.total_messages(), 15);
  EXPECT_EQ(t.oldest_queue_id(), "BBBBBB1");
  EXPECT_EQ(total.oldest_gateway(), "gw-b");
  EXPECT_EQ(t.age_bucket_bounds_size(), 1);
  EXPECT_EQ(t.scan_problem_count(), 3);
  EXPECT_EQ(t.mpa_throttle().state(), v1::MpaThrottle::REFUSING);
  EXPECT_EQ(t.mpa_throttle().spool_items(), 15);
  EXPECT_FALSE(t.mpa_throttle().has_limits());
}

TEST(SummaryTotalTest, SumsTopListsAcrossGatewaysAndCutsThemToTopN) {
  v1::QueueSummary a, b;
  auto domain = [](v1::QueueSummary* s, const std::string& d, int64_t n) {
    v1::DomainCount* c = s->add_top_domains();
    c->set_domain(d);
    c->set_recipients(n);
    c->set_messages(n);
  };
  domain(&a, "x.example", 5);
  domain(&a, "y.example", 4);
  domain(&b, "y.example", 4);
  domain(&b, "z.example", 6);
  a.add_top_delay_reasons()->set_reason("timeout");
  a.mutable_top_delay_reasons(0)->set_recipients(2);
  b.add_top_delay_reasons()->set_reason("timeout");
  b.mutable_top_delay_reasons(0)->set_recipients(3);
  SummaryTotal total;
  total.Add("gw-a", a);
  total.Add("gw-b", b);
  const v1::QueueSummary t = total.Total(2);
  ASSERT_EQ(t.top_domains_size(), 2);
  EXPECT_EQ(t.top_domains(0).domain(), "y.example");
  EXPECT_EQ(t.top_domains(0).recipients(), 8);
  EXPECT_EQ(t.top_domains(1).domain(), "z.example");
  ASSERT_EQ(t.top_delay_reasons_size(), 1);
  EXPECT_EQ(t.top_delay_reasons(0).recipients(), 5);
  EXPECT_FALSE(t.has_mpa_throttle());  // no gateway has an MPA
  EXPECT_TRUE(total.oldest_gateway().empty());
}

}  // namespace
}  // namespace mailfleet::controller
