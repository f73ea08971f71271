#include "bench/common/bench_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace mailfleet::bench {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out,
            const std::string& err) {
  pid_t pid = fork();
  if (pid == 0) {
    auto redirect = [](const std::string& path, int fd) {
      if (path.empty()) return;
      int to = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(to, fd);
    };
    redirect(out, 1);
    if (err == out && !out.empty()) {
      dup2(1, 2);  // one file, one offset: the two streams interleave
    } else {
      redirect(err, 2);
    }
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  return pid;
}

}  // namespace mailfleet::bench
