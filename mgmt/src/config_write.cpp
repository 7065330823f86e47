// SPDX-License-Identifier: GPL-3.0-or-later
#include "config_write.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace msgw::mgmt {

namespace {

bool write_synced(const std::string& path, const std::string& text, mode_t mode, std::string* why) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    *why = path + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *why = path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    done += size_t(n);
  }
  ::fchmod(fd, mode);  // the umask must not loosen or tighten the config's mode
  const bool ok = ::fsync(fd) == 0;
  if (!ok) *why = path + ": fsync: " + std::strerror(errno);
  ::close(fd);
  return ok;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

bool replace_atomically(const std::string& path, const std::string& text, mode_t mode, std::string* why) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  if (!write_synced(tmp, text, mode, why)) {
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *why = path + ": rename: " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace

std::string config_path(const nlohmann::json& request) {
  if (auto f = request.value("config_file", std::string()); !f.empty()) return f;
  if (const char* env = std::getenv("MSGW_CONFIG"); env != nullptr && *env != '\0') return env;
  return "/etc/msgw/msgw.toml";
}

bool read_whole(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return true;
}

bool replace_file(const std::string& path, const std::string& previous, const std::string& text, std::string* why) {
  struct stat st {};
  const mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0640;
  // The previous version first: if this fails the file is untouched.
  if (!replace_atomically(path + ".prev", previous, mode, why)) return false;
  return replace_atomically(path, text, mode, why);
}

void audit(const std::string& path, const std::string& what) {
  std::string who;
  if (const passwd* pw = ::getpwuid(::getuid())) who = pw->pw_name;
  else who = "uid " + std::to_string(::getuid());
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0') who += " (sudo by " + std::string(sudo) + ")";
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::ofstream(path + ".audit", std::ios::app) << when << " " << who << ": " << what << "\n";
  ::openlog("msgwctl", LOG_PID, LOG_AUTHPRIV);
  ::syslog(LOG_NOTICE, "%s: %s: %s", path.c_str(), who.c_str(), what.c_str());
  ::closelog();
}

}  // namespace msgw::mgmt
