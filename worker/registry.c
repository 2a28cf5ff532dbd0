/* registry.c - the list of every model hyperfold knows. Adding a model: define its hf_model_ops in
 * worker/models/<name>.c and add it to `models` below. */
#include "worker/model.h"

#include <string.h>

extern const hf_model_ops hf_model_ridge;
extern const hf_model_ops hf_model_logistic_regression;
extern const hf_model_ops hf_model_kernel_ridge;
extern const hf_model_ops hf_model_xgboost;
extern const hf_model_ops hf_model_random_forest;
extern const hf_model_ops hf_model_elastic_net;

static const hf_model_ops *const models[] = {
    &hf_model_ridge,
    &hf_model_logistic_regression,
    &hf_model_kernel_ridge,
    &hf_model_xgboost,
    &hf_model_random_forest,
    &hf_model_elastic_net,
    NULL,
};

/* The model registered as `name` (static, never freed), or NULL. Not collective. */
const hf_model_ops *hf_model_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; models[i]; i++)
        if (strcmp(models[i]->name, name) == 0)
            return models[i];
    return NULL;
}

/* NULL-terminated list of all registered models (static). Not collective. */
const hf_model_ops *const *hf_model_all(void)
{
    return models;
}
