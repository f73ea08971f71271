// A fresh directory under /tmp for a test, removed with all it holds when
// the TempDir goes away.
#ifndef MAILFLEET_TESTS_TESTING_TEMP_DIR_H_
#define MAILFLEET_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace mailfleet::testing {

class TempDir {
 public:
  // "/tmp/<prefix>-XXXXXX"; a failure to make it fails the test.
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
      return;
    }
    path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Empty if it could not be made.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_TESTING_TEMP_DIR_H_
