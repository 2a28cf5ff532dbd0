/* fuzz_model_h5.c - the model.h5 reader on arbitrary bytes: the input is written to a file and
 * loaded with coordinator/modelfile.c hf_modelfile_read, then used for prediction (fuzz_model.c).
 *
 * Most mutations of an HDF5 file are refused by libhdf5 while it parses the superblock and the
 * object headers; fuzz_model_h5_struct builds well-formed files with hostile contents instead.
 * HDF5's error stack is silenced (hf_fuzz_init). */
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
    hf_fuzz_model(hf_fuzz_write_file("model.h5", data, size));
    return 0;
}
