/* fuzz_model_h5.c - the model.h5 reader on arbitrary bytes: the input is written to a file and
 * loaded with coordinator/modelfile.c hf_modelfile_read, then used for prediction (fuzz_model.c).
 *
 * Most mutations of an HDF5 file are refused by libhdf5 while it parses the superblock and the
 * object headers; fuzz_model_h5_struct builds well-formed files with hostile contents instead.
 * HDF5's error stack is silenced (hf_fuzz_init).
 *
 * A model of format_version 2 or 3 begins with the SHA-256 of the rest of the file, which rejects
 * almost every mutation before libhdf5 sees it: an input that begins with that block's prefix
 * ("hyperfold-model sha256 ") gets a fresh checksum (hf_modelfile_stamp) so that the parser is
 * reached; one whose prefix the mutation damaged exercises the check itself. */
#include "common/hf.h"
#include "coordinator/modelfile.h"
#include <string.h>

#include "fuzz_model.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char prefix[] = "hyperfold-model sha256 ";
    const char *path = hf_fuzz_write_file("model.h5", data, size);
    if (size > 512 + 8 && memcmp(data, prefix, sizeof prefix - 1) == 0 &&
        hf_modelfile_stamp(path) < 0)
        hf_fuzz_check(0, "hf_modelfile_stamp failed: %s", hf_error_message());
    hf_fuzz_model(path);
    return 0;
}
