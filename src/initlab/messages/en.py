"""The English messages, by message id (``code`` or ``code.variant``)."""

CATALOG = {
    # wrapping any message
    "checked_on": "{message} (checked on {where})",
    # the runner: the function could not be judged
    "not_implemented": "{name} is not implemented yet (it raises NotImplementedError)",
    "missing_function": "{name} is not defined in the submission",
    "missing_function.imported": "{name} is not defined in the submission ({why})",
    "load_error": "{name} could not be loaded: {error}",
    "unavailable": "{name} used {error}",
    "timeout": "{error}",
    "exception": "{name} raised {error}",
    "exception.runner": "{error}",
    "uses_grader": "{name}: {error}",
    "exception.hard_coded": (
        "{name} raised {error}; this network has no {key}: loop over its layers, "
        "l = 1 .. L with L = len(parameters) // 2, instead of writing out W1, W2, W3"
    ),
    # the initializers: structure
    "not_a_dict": "returned a {type}; expected a dict with keys {keys}",
    "wrong_keys": "the dict has {problems}; for layers_dims = {dims} the keys are {keys}",
    "wrong_keys.missing": "missing {keys}",
    "wrong_keys.unexpected": "unexpected {keys}",
    "not_ndarray": (
        "{key} is a {type}; expected a plain numpy.ndarray (np.zeros, np.random.randn ...)"
    ),
    "not_ndarray.propagation": "{key} is a {type}; expected a numpy.ndarray",
    "wrong_dtype": "{key} has dtype {dtype}; expected float64",
    "transposed": (
        "W{l} has shape {shape}: it is transposed; W{l} has shape (n_{l}, n_{l_prev}) = "
        "(layers_dims[{l}], layers_dims[{l_prev}]) = {expected}"
    ),
    "wrong_shape": (
        "W{l} has shape {shape}; expected (layers_dims[{l}], layers_dims[{l_prev}]) = {expected}"
    ),
    "bias_shape": (
        "b{l} has shape {shape}; expected a column (layers_dims[{l}], 1) = {expected}, "
        "as np.zeros((layers_dims[{l}], 1)) gives"
    ),
    "bias_not_zero": (
        "b{l} is not zero (largest |value| {largest:.4g}); biases start at 0 with "
        "np.zeros: random weights already break the symmetry"
    ),
    "bias_not_zero.drawn": (
        "the biases are drawn with np.random.randn; they start at 0 with "
        "np.zeros((layers_dims[l], 1)). Drawing them also takes numbers from the "
        "generator, which is why the weights after b1 differ from the course's too: "
        "the seed and the weights' draws are right"
    ),
    # the initializers: values
    "scale_wrong.not_finite": "W{l} has non-finite values (nan or inf)",
    "not_zero": (
        "W{l} is not all zeros (largest |value| {largest:.4g}); zero initialization sets "
        "every weight to 0 with np.zeros"
    ),
    "scale_integer_division": (
        "W{l} is all zeros: {numerator} // {fan_in} is integer division, which gives 0; "
        "divide with /: np.sqrt({numerator} / layers_dims[{l_prev}])"
    ),
    "constant_init": (
        "every weight of W{l} equals {value:.4g}: all units of layer {l} compute the same "
        "thing and learn the same thing, so symmetry is never broken; draw random weights "
        "with np.random.randn"
    ),
    "scale_xavier": (
        "W{l} is scaled by {measured:.4g} = {formula}: that is Xavier's sqrt(1/n_{{l-1}}); "
        "He uses sqrt(2/n_{{l-1}}) ({method} for this layer: {expected_formula} = "
        "{expected:.4g})"
    ),
    "scale_he": (
        "W{l} is scaled by {measured:.4g} = {formula}: that is He's sqrt(2/n_{{l-1}}); "
        "Xavier uses sqrt(1/n_{{l-1}}) ({method} for this layer: {expected_formula} = "
        "{expected:.4g})"
    ),
    "scale_fan_out": (
        "W{l} is scaled by {measured:.4g} = {formula}: that uses n_{l} = {fan_out}, the "
        "layer's own size; use n_{l_prev} = layers_dims[{l_prev}] = {fan_in}, its number of "
        "inputs ({method} for this layer: {expected_formula} = {expected:.4g})"
    ),
    "scale_missing_sqrt": (
        "W{l} is scaled by {measured:.4g} = {formula}: the square root is missing "
        "({method} for this layer: {expected_formula} = {expected:.4g})"
    ),
    "scale_wrong": "W{l} is scaled by {measured:.4g}; {method} initialization uses {uses}",
    "wrong_seed.reseeded": (
        "every layer starts the generator again: np.random.seed(3) is called inside the "
        "loop; call it once, before the loop"
    ),
    "wrong_seed.small": (
        "the weights are not the values np.random.seed(3) gives: call np.random.seed(3) "
        "once, before the loop, and draw each layer with np.random.randn"
    ),
    "wrong_seed": (
        "the scale and distribution are right, but the weights are not the values "
        "np.random.seed(3) gives: call np.random.seed(3) once, before the loop, and draw "
        "each layer with np.random.randn(layers_dims[l], layers_dims[l - 1]) in order "
        "l = 1, 2, ..."
    ),
    "uniform_not_normal": (
        "W{l} does not look normal (mean {mean:.3g}, excess kurtosis {kurtosis:.2f}; a "
        "standard normal has 0 and 0, a uniform one -1.2): draw with np.random.randn, not "
        "np.random.rand"
    ),
    "trace_wrong.cannot_train": "the course model cannot train from these: {error}",
    "trace_wrong": (
        "training the course model from these parameters gives cost {cost!r} at iteration "
        "{iteration}, expected {expected!r}; accuracy {train:.3g} / {test:.3g}, expected "
        "{expected_train:.3g} / {expected_test:.3g}"
    ),
    # forward propagation
    "forward_wrong.not_a_pair": "returned a {type}; expected the pair (AL, cache)",
    "forward_wrong.shape": (
        "AL has shape {shape}; expected (n_L, m) = {expected} for X of shape {x_shape} and "
        "{layers} layers"
    ),
    "forward_wrong": (
        "AL differs for {layers} layers: AL{index} is {value!r}, expected {expected!r}"
    ),
    "hidden_activation_wrong": (
        "the hidden layers use {activation}; layers 1 to L-1 use relu, A = np.maximum(0, Z)"
    ),
    "output_activation_wrong": (
        "the last layer uses {activation}; layer L uses sigmoid, A = 1 / (1 + np.exp(-Z))"
    ),
    "backward_reads_forward": (
        "backward_propagation is right when it is given a correct cache, but with this "
        "forward pass's cache it computes other gradients: it reads what "
        "forward_propagation gets wrong, so fix forward_propagation and both will work together"
    ),
    "cache_wrong.type": "the cache is a {type}; expected {fix}",
    "cache_wrong.length": "the cache has {length} entries; expected {fix}",
    "cache_wrong.entry": (
        "cache[{index}] is a {type}{items}; expected the tuple (A_prev, W, b, Z, A) of layer {l}"
    ),
    "cache_wrong.value": (
        "cache[{index}] holds a wrong {what} for layer {l}: the tuple is (A_prev, W, b, Z, A) "
        "= (A[{index}], W[{l}], b[{l}], Z[{l}], A[{l}])"
    ),
    "cache_wrong.items": " of {count} items",
    "cache_wrong.fix": (
        "a list of L = {layers} tuples (A_prev, W, b, Z, A), one per layer, in order"
    ),
    # the loss
    "loss_wrong.type": "returned a {type}; expected a float",
    "loss_wrong.hint": "loss is {value!r}, expected {expected!r}: {why}",
    "loss_wrong": "loss is {value!r} for AL of shape {shape}, expected {expected!r}",
    "loss_wrong.not_divided": "the sum is not divided by m: loss = (1/m) nansum(...)",
    "loss_wrong.sign": "the sign is flipped: loss = -(1/m) sum(Y log AL + (1-Y) log(1-AL))",
    "loss_wrong.sum": (
        "np.sum gives nan when a unit saturates to the right answer (0 * log 0); use np.nansum"
    ),
    "loss_wrong.nanmean": (
        "np.nanmean divides by the number of terms that are not nan (and by n_L units too), "
        "not by m: loss = (1/m) * np.nansum(...)"
    ),
    # backward propagation
    "grad_wrong.type": "returned a {type}; expected a dict {keys}",
    "grad_wrong.missing": "grads is missing {keys}",
    "db_shape": (
        "{key} has shape {shape}; expected {expected}: np.sum(dZ, axis=1, keepdims=True) "
        "keeps the column"
    ),
    "grad_transposed": (
        "{key} has shape {shape}: it is transposed; expected {expected}, the shape of {of} "
        "(dW = dZ A_prev^T)"
    ),
    "grad_wrong.shape": "{key} has shape {shape}; expected {expected}, the shape of {of}",
    "grad_missing_1_over_m": (
        "every gradient is off by a factor m = {m}: the 1/m belongs in dZ[L] = (1/m)(AL - Y) "
        "once, not again (or never)"
    ),
    "relu_derivative_wrong": "the ReLU derivative {how}: dZ[l] = dA[l] * (A[l] > 0)",
    "relu_derivative_wrong.none": "is left out",
    "relu_derivative_wrong.times A": "is taken as A itself",
    "relu_derivative_wrong.sigmoid": "is the sigmoid's",
    "grad_wrong": (
        "{key} is wrong (the first wrong tensor, going back from layer {layers}): "
        "{key}{index} is {value!r}; the gradient is {expected!r} (centred difference: "
        "{numeric:.6g})"
    ),
    # the update
    "update_wrong.type": "returned {type}{keys}; expected the parameters dict {expected}",
    "update_wrong.keys": " with keys {keys}",
    "update_wrong": "{key} {why}",
    "update_wrong.not_updated": "is not updated",
    "update_wrong.ascends": "moves up the gradient: W = W - learning_rate * dW",
    "update_wrong.no_rate": "ignores the learning rate: W = W - learning_rate * dW",
    "update_wrong.shape": "has shape {shape}, expected {expected}",
    "update_wrong.differs": "differs from W - learning_rate * dW",
    # names
    "method.he": "He",
    "method.xavier": "Xavier",
    "method.random": "large random",
}
