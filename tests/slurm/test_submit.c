/* test_submit.c - `hyperfold submit` without a cluster: --dry-run output, flag handling, the
 * template renderer and the sbatch runner against stand-in sbatch programs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/fsutil.h"
#include "common/hf.h"
#include "coordinator/commands.h"
#include "slurm/slurm.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static const char k_spec[] = "name: sweep-test\n"
                             "data:\n"
                             "  source: data.csv\n"
                             "  target: y\n"
                             "model:\n"
                             "  type: ridge\n"
                             "  params:\n"
                             "    alpha: [0.1, 1.0]\n"
                             "output:\n"
                             "  dir: out\n"
                             "slurm:\n"
                             "  partition: batchq\n"
                             "  account: proj7\n"
                             "  time: \"00:10:00\"\n"
                             "  nodes: 3\n"
                             "  ntasks_per_node: 4\n";

static const char k_spec_plain[] = "name: plain\n"
                                   "data:\n"
                                   "  source: data.csv\n"
                                   "  target: y\n"
                                   "model:\n"
                                   "  type: ridge\n";

static void write_text(const char *path, const char *text, int mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/hf-test-submit-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    if (chdir(g_dir) != 0)
        return -1;
    write_text("job.yaml", k_spec, 0644);
    write_text("plain.yaml", k_spec_plain, 0644);
    setenv("HYPERFOLD_BIN", "/opt/hf/bin/hyperfold", 1);
    unsetenv("HF_SBATCH");
    unsetenv("HF_SBATCH_TEMPLATE");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = hf_asprintf("rm -rf '%s'", g_dir);
    int rc = cmd ? system(cmd) : -1;
    free(cmd);
    return rc == 0 ? 0 : -1;
}

/* Runs hf_cmd_submit with stdout captured; returns its status, *out the output (caller frees). */
static int run_submit(char **out, int argc, ...)
{
    char *argv[32];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "submit";
    for (int i = 0; i < argc && i < 30; i++)
        argv[i + 1] = va_arg(ap, char *);
    va_end(ap);
    argv[argc + 1] = NULL;

    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    hf_error_clear();
    int rc = hf_cmd_submit(argc + 1, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    size_t len = 0;
    assert_int_equal(hf_fs_read_file("stdout.txt", out, &len), 0);
    return rc;
}

/* The value of "#SBATCH --<option>=" in `text` (static buffer), NULL if absent; fails the test if
 * the option appears twice. */
static const char *sbatch_value(const char *text, const char *option)
{
    static char value[512];
    char key[128];
    snprintf(key, sizeof key, "\n#SBATCH --%s=", option);
    const char *p = strstr(text, key);
    if (!p)
        return NULL;
    assert_null(strstr(p + 1, key));
    p += strlen(key);
    size_t n = strcspn(p, "\n");
    snprintf(value, sizeof value, "%.*s", (int)n, p);
    return value;
}

static void test_dry_run_uses_spec(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(run_submit(&out, 2, "job.yaml", "--dry-run"), HF_OK);
    assert_string_equal(sbatch_value(out, "partition"), "batchq");
    assert_string_equal(sbatch_value(out, "account"), "proj7");
    assert_string_equal(sbatch_value(out, "time"), "00:10:00");
    assert_string_equal(sbatch_value(out, "nodes"), "3");
    assert_string_equal(sbatch_value(out, "ntasks-per-node"), "4");
    assert_string_equal(sbatch_value(out, "job-name"), "sweep-test");
    assert_string_equal(sbatch_value(out, "signal"), "B:USR1@120");
    assert_string_equal(sbatch_value(out, "open-mode"), "append");
    assert_string_equal(sbatch_value(out, "chdir"), g_dir);
    assert_non_null(strstr(out, "\n#SBATCH --requeue\n"));
    assert_null(sbatch_value(out, "dependency"));
    assert_null(sbatch_value(out, "begin"));
    assert_null(strstr(out, "\n#SBATCH --overcommit\n"));

    char *log = hf_asprintf("%s/out/sweep-test/slurm-%%j.log", g_dir);
    assert_string_equal(sbatch_value(out, "output"), log);
    assert_string_equal(sbatch_value(out, "error"), log);
    char *settings = hf_asprintf("\nHF_JOB_SPEC='%s/job.yaml'\nHF_BIN='/opt/hf/bin/hyperfold'\n"
                                 "HF_RUN_DIR='%s/out/sweep-test'\n",
                                 g_dir, g_dir);
    assert_non_null(strstr(out, settings));
    /* The template's markers are gone and the script still starts with its shebang. */
    assert_null(strstr(out, "\n#HF-BEGIN-SBATCH"));
    assert_null(strstr(out, "\n#HF-SETTINGS"));
    assert_int_equal(strncmp(out, "#!/bin/bash\n", 12), 0);
    /* Nothing is written in a dry run. */
    assert_false(hf_fs_exists("out"));
    free(log);
    free(settings);
    free(out);
}

static void test_flags_override_spec(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(run_submit(&out, 19, "--ntasks", "6", "--overcommit", "--nodes", "2",
                                "--ntasks-per-node=1", "--time", "1-02:00:00", "--partition",
                                "short", "--account=other", "job.yaml", "--after", "4711",
                                "--begin", "now+1hour", "--signal-time", "300", "--dry-run"),
                     HF_OK);
    assert_string_equal(sbatch_value(out, "partition"), "short");
    assert_string_equal(sbatch_value(out, "account"), "other");
    assert_string_equal(sbatch_value(out, "time"), "1-02:00:00");
    assert_string_equal(sbatch_value(out, "nodes"), "2");
    assert_string_equal(sbatch_value(out, "ntasks-per-node"), "1");
    assert_string_equal(sbatch_value(out, "dependency"), "afterok:4711");
    assert_string_equal(sbatch_value(out, "begin"), "now+1hour");
    assert_string_equal(sbatch_value(out, "signal"), "B:USR1@300");
    assert_non_null(strstr(out, "\n#SBATCH --overcommit\n"));
    assert_string_equal(sbatch_value(out, "ntasks"), "6");
    free(out);

    assert_int_equal(run_submit(&out, 4, "job.yaml", "--after", "afterany:5:6", "--dry-run"),
                     HF_OK);
    assert_string_equal(sbatch_value(out, "dependency"), "afterany:5:6");
    free(out);
}

static void test_spec_without_slurm_section(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(run_submit(&out, 2, "plain.yaml", "--dry-run"), HF_OK);
    assert_null(sbatch_value(out, "partition"));
    assert_null(sbatch_value(out, "account"));
    assert_null(sbatch_value(out, "time"));
    assert_null(sbatch_value(out, "nodes"));
    assert_null(sbatch_value(out, "ntasks-per-node"));
    assert_null(sbatch_value(out, "ntasks"));
    /* output.dir defaults to runs/ */
    char *log = hf_asprintf("%s/runs/plain/slurm-%%j.log", g_dir);
    assert_string_equal(sbatch_value(out, "output"), log);
    free(log);
    free(out);
}

static void expect_einval(const char *what, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "submit";
    for (int i = 0; i < argc; i++)
        argv[i + 1] = va_arg(ap, char *);
    va_end(ap);
    argv[argc + 1] = NULL;
    hf_error_clear();
    int rc = hf_cmd_submit(argc + 1, argv);
    if (rc != HF_EINVAL)
        fail_msg("%s: got %d, expected HF_EINVAL", what, rc);
    assert_int_equal(hf_exit_code(rc), 2);
    const char *msg = hf_error_message();
    assert_true(strlen(msg) > 0);
    assert_null(strchr(msg, '\n'));
}

static void test_bad_flags(void **state)
{
    (void)state;
    expect_einval("unknown flag", 2, "job.yaml", "--nodez=2");
    assert_non_null(strstr(hf_error_message(), "--nodez"));
    expect_einval("zero nodes", 3, "job.yaml", "--nodes", "0");
    expect_einval("negative ntasks", 2, "job.yaml", "--ntasks=-1");
    expect_einval("non-numeric nodes", 3, "job.yaml", "--nodes", "2x");
    expect_einval("missing value", 2, "job.yaml", "--time");
    assert_non_null(strstr(hf_error_message(), "--time needs a value"));
    expect_einval("bad time", 3, "job.yaml", "--time", "1h");
    assert_non_null(strstr(hf_error_message(), "\"1h\""));
    expect_einval("four time fields", 3, "job.yaml", "--time", "1:2:3:4");
    expect_einval("bad dependency", 3, "job.yaml", "--after", "soon");
    expect_einval("bad begin", 3, "job.yaml", "--begin", "next week");
    expect_einval("partition with a space", 3, "job.yaml", "--partition", "a b");
    expect_einval("signal time too large", 3, "job.yaml", "--signal-time", "70000");
    expect_einval("no spec", 1, "--dry-run");
    expect_einval("two specs", 3, "job.yaml", "plain.yaml", "--dry-run");
}

static void test_bad_spec(void **state)
{
    (void)state;
    char *bad = hf_asprintf("%sslurm:\n  nodez: 2\n", k_spec_plain);
    write_text("bad.yaml", bad, 0644);
    free(bad);
    expect_einval("bad spec", 2, "bad.yaml", "--dry-run");
    assert_non_null(strstr(hf_error_message(), "nodez"));
}

static hf_slurm_options base_options(void)
{
    hf_slurm_options opt = {0};
    opt.job_name = "j";
    opt.run_dir = "/r/un";
    opt.script_path = "/r/un/submit.sbatch";
    opt.log_name = "slurm-%j.log";
    opt.work_dir = "/w";
    opt.spec_path = "/tmp/it's/job.yaml";
    opt.bin_path = "/b/hyperfold";
    return opt;
}

static void test_render(void **state)
{
    (void)state;
    hf_slurm_options opt = base_options();
    char *out = NULL;
    const char *tpl = "#!/bin/sh\n#HF-BEGIN-SBATCH\n#SBATCH --job-name=default\n#HF-END-SBATCH\n"
                      "#HF-SETTINGS\necho \"$HF_JOB_SPEC\"\n";
    assert_int_equal(hf_slurm_render(tpl, &opt, &out), HF_OK);
    assert_null(strstr(out, "default"));
    /* A single quote in a path survives shell quoting: run the script and compare. */
    write_text("render.sh", out, 0755);
    FILE *p = popen("sh ./render.sh", "r");
    assert_non_null(p);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
    assert_string_equal(line, "/tmp/it's/job.yaml\n");
    free(out);

    /* A percent sign in the run directory is escaped in --output (Slurm expands %j, %%). */
    opt.run_dir = "/r/100%";
    assert_int_equal(hf_slurm_render(tpl, &opt, &out), HF_OK);
    assert_string_equal(sbatch_value(out, "output"), "/r/100%%/slurm-%j.log");
    free(out);

    opt = base_options();
    opt.run_dir = "/r/with space";
    hf_error_clear();
    assert_int_equal(hf_slurm_render(tpl, &opt, &out), HF_EINVAL);
    assert_null(out);
    assert_non_null(strstr(hf_error_message(), "with space"));

    opt = base_options();
    hf_error_clear();
    assert_int_equal(hf_slurm_render("#!/bin/sh\n#HF-SETTINGS\n", &opt, &out), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "#HF-BEGIN-SBATCH"));
}

static void test_sbatch_runner(void **state)
{
    (void)state;
    char *id = NULL;
    write_text("ok-sbatch", "#!/bin/sh\n[ \"$1\" = --parsable ] || exit 9\necho \"4242;hftest\"\n",
               0755);
    write_text("refusing-sbatch",
               "#!/bin/sh\necho 'sbatch: error: Batch job submission failed: Invalid partition "
               "name specified' >&2\nexit 1\n",
               0755);
    write_text("silent-sbatch", "#!/bin/sh\necho hello\n", 0755);

    assert_int_equal(hf_slurm_sbatch("./ok-sbatch", "x.sbatch", &id), HF_OK);
    assert_string_equal(id, "4242");
    free(id);

    hf_error_clear();
    assert_int_equal(hf_slurm_sbatch("./refusing-sbatch", "x.sbatch", &id), HF_EIO);
    assert_null(id);
    assert_non_null(strstr(hf_error_message(), "Invalid partition name specified"));
    assert_int_equal(hf_exit_code(HF_EIO), 1);

    hf_error_clear();
    assert_int_equal(hf_slurm_sbatch("./silent-sbatch", "x.sbatch", &id), HF_EIO);
    assert_non_null(strstr(hf_error_message(), "no job id"));

    hf_error_clear();
    assert_int_equal(hf_slurm_sbatch("/nonexistent/sbatch", "x.sbatch", &id), HF_EIO);
    assert_non_null(strstr(hf_error_message(), "cannot run /nonexistent/sbatch"));
}

static void test_submit_writes_script(void **state)
{
    (void)state;
    char *out = NULL, *script = NULL;
    size_t len = 0;
    write_text("record-sbatch",
               "#!/bin/sh\n[ \"$1\" = --parsable ] || exit 9\ncp \"$2\" submitted.sbatch\n"
               "echo 77\n",
               0755);
    char *fake = hf_asprintf("%s/record-sbatch", g_dir);
    setenv("HF_SBATCH", fake, 1);
    int rc = run_submit(&out, 3, "job.yaml", "--time", "00:01:00");
    unsetenv("HF_SBATCH");
    assert_int_equal(rc, HF_OK);
    char *expect = hf_asprintf("submitted job 77\nrun directory: %s/out/sweep-test\n"
                               "log: %s/out/sweep-test/slurm-77.log\n",
                               g_dir, g_dir);
    assert_string_equal(out, expect);
    assert_int_equal(hf_fs_read_file("out/sweep-test/submit.sbatch", &script, &len), 0);
    assert_string_equal(sbatch_value(script, "time"), "00:01:00");
    char *copy = NULL;
    assert_int_equal(hf_fs_read_file("submitted.sbatch", &copy, &len), 0);
    assert_string_equal(copy, script);
    free(copy);
    free(script);
    free(expect);
    free(fake);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dry_run_uses_spec),
        cmocka_unit_test(test_flags_override_spec),
        cmocka_unit_test(test_spec_without_slurm_section),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_bad_spec),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_sbatch_runner),
        cmocka_unit_test(test_submit_writes_script),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
