// Reads files of /proc/net as a network namespace sees them, without a child process: a
// short-lived thread enters the namespace (setns() changes only the calling thread) and reads
// /proc/thread-self/net/<name>. (/proc/self/net shows the namespace of the process's main
// thread, so it would not do.) The reference stack polls /proc/net/igmp and igmp6 of each
// node's namespace this way; forking the whole Node process twice per poll cost more than the
// reads themselves, and stalled the data plane's threads while the page tables were copied.
#pragma once

#include <string>
#include <vector>

namespace ipoib::tun {

struct ProcNetFile {
  bool found = false;  // false: the namespace has no such file (e.g. igmp6 with IPv6 off)
  std::string text;
};

// `netnsPath`: a namespace file (/run/netns/NAME), or "" for the caller's own namespace.
// `names`: file names under /proc/net, each [A-Za-z0-9_] only (checked by the caller).
// Throws OsError naming the failing call.
std::vector<ProcNetFile> ReadProcNetIn(const std::string& netnsPath, const std::vector<std::string>& names);

}  // namespace ipoib::tun
