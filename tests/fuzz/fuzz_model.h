/* fuzz_model.h - what `hyperfold predict` does with a model.h5, for the two model harnesses. */
#ifndef HF_FUZZ_MODEL_H
#define HF_FUZZ_MODEL_H

/* Reads the file with coordinator/modelfile.c hf_modelfile_read; when it loads, predicts a few rows
 * made to fit its schema (every feature type, missing values, every category) with
 * hf_predict_pipeline and formats them as predict.c does. Checks the hf.h error convention and
 * that a successful prediction wrote every cell of its output, and that the reader left no HDF5
 * object open. */
void hf_fuzz_model(const char *path);

#endif
