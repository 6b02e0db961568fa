/*
 * A QEMU TCG plugin (qemu-user 7.2, plugin API version 1) that counts the guest instructions a process executes
 * (issue 16: instruction counts per inference on the emulated boards, an indication, not a time).
 *
 * Every translated block gets an execution callback whose user data is the block's instruction count; the callback
 * adds it to one process-wide counter with an atomic add (each guest thread is a vCPU thread in qemu-user, and
 * onnxruntime's or Node's threads run concurrently; qemu's inline add is not atomic). A block left early by a fault
 * is counted whole. At exit the total is appended, as one line `PID INSTRUCTIONS`, to the file named by the plugin
 * argument `out=PATH` (or printed through qemu's log when there is none).
 *
 *   qemu-aarch64 -plugin file=insn-count.so,out=/tmp/counts.txt ./prog
 *
 * Built by scripts/arm64/build-insn-count with the host's cc. The declarations below are the few this plugin uses,
 * written from QEMU's documented plugin API (include/qemu/qemu-plugin.h, QEMU_PLUGIN_VERSION 1); qemu-aarch64 resolves
 * them from its own exported symbols when it loads the plugin.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;

/* qemu_info_t of API version 1: passed to qemu_plugin_install, valid during that call only. */
typedef struct {
  const char *target_name;
  struct {
    int min;
    int cur;
  } version;
  bool system_emulation;
  union {
    struct {
      int smp_vcpus;
      int max_vcpus;
    } system;
  };
} qemu_info_t;

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

/* QEMU refuses a plugin that does not export the API version it was written for. */
EXPORT int qemu_plugin_version = 1;

static uint64_t total_insns;
static char out_path[4096];

static void on_tb_exec(unsigned int vcpu_index, void *userdata) {
  (void)vcpu_index;
  __atomic_fetch_add(&total_insns, (uint64_t)(uintptr_t)userdata, __ATOMIC_RELAXED);
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  size_t n = qemu_plugin_tb_n_insns(tb);
  qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)n);
}

static void on_exit_all(qemu_plugin_id_t id, void *userdata) {
  (void)id;
  (void)userdata;
  char line[64];
  int len = snprintf(line, sizeof line, "%ld %" PRIu64 "\n", (long)getpid(), __atomic_load_n(&total_insns, __ATOMIC_SEQ_CST));
  if (out_path[0] == '\0') {
    qemu_plugin_outs(line);
    return;
  }
  int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, line, (size_t)len) != len) {
    qemu_plugin_outs("insn-count: cannot write the count to out=");
    qemu_plugin_outs(out_path);
    qemu_plugin_outs("\n");
  }
  if (fd >= 0) close(fd);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  if (info->version.min > 1 || info->version.cur < 1) {
    qemu_plugin_outs("insn-count: this QEMU does not offer plugin API version 1\n");
    return -1;
  }
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "out=", 4) == 0 && strlen(argv[i] + 4) < sizeof out_path) {
      strcpy(out_path, argv[i] + 4);
    } else {
      qemu_plugin_outs("insn-count: unknown or too long argument (out=PATH is the only one)\n");
      return -1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
  qemu_plugin_register_atexit_cb(id, on_exit_all, NULL);
  return 0;
}
