#include "agent/service/proto_convert.h"

#include "gtest/gtest.h"

namespace mailfleet {
namespace {

std::string Text(absl::string_view in) {
  std::string out;
  SetText(in, &out);
  return out;
}

TEST(ProtoConvertTest, TextIsKeptWhenItIsUtf8) {
  EXPECT_EQ(Text("plain ascii"), "plain ascii");
  EXPECT_EQ(Text("jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"), "jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7");
  EXPECT_EQ(Text(""), "");
}

TEST(ProtoConvertTest, BytesThatAreNotUtf8BecomeQuestionMarks) {
  EXPECT_EQ(Text("450 \xf8\x80 busy"), "450 ?? busy");   // no such lead byte
  EXPECT_EQ(Text("\xc0\xaf"), "??");                    // overlong '/'
  EXPECT_EQ(Text("\xed\xa0\x80"), "???");               // surrogate
  EXPECT_EQ(Text("\xf4\x90\x80\x80"), "????");          // past U+10FFFF
  EXPECT_EQ(Text("cut \xe2\x82"), "cut ??");            // truncated
  v1::Message m;
  SetText("a\xff" "b", m.mutable_sender());
  std::string wire;
  ASSERT_TRUE(m.SerializeToString(&wire));
  v1::Message back;
  EXPECT_TRUE(back.ParseFromString(wire));  // parsers reject bad UTF-8
}

TEST(ProtoConvertTest, TimestampsAreClampedToTheValidRange) {
  google::protobuf::Timestamp t;
  SetTimestamp(absl::FromUnixSeconds(int64_t{1} << 40), &t);
  EXPECT_EQ(t.seconds(), 253402300799);
  SetTimestamp(absl::FromUnixSeconds(-(int64_t{1} << 40)), &t);
  EXPECT_EQ(t.seconds(), -62135596800);
  SetTimestamp(absl::FromUnixSeconds(1700000000) + absl::Milliseconds(5), &t);
  EXPECT_EQ(t.seconds(), 1700000000);
  EXPECT_EQ(t.nanos(), 5000000);
}

}  // namespace
}  // namespace mailfleet
