"""Forward and backward propagation of a dense network.

The model: L layers, LINEAR -> RELU for layers 1 .. L-1 and LINEAR -> SIGMOID
for layer L. ``X`` has shape (n_0, m), one example per column; ``Y`` has shape
(n_L, m); ``parameters`` is the dict the initialization functions return.

The forward pass keeps, for each layer l = 1 .. L, the tuple
(A_prev, W, b, Z, A) = (A[l-1], W[l], b[l], Z[l], A[l]) in the list ``cache``;
the backward pass reads it. Each function is checked on its own: the backward
pass is given a correct cache, so a mistake in one costs only that one.
"""

import numpy as np


def forward_propagation(X, parameters):
    """A[0] = X; for l = 1 .. L: Z[l] = W[l] A[l-1] + b[l], A[l] = relu(Z[l]) (sigmoid at l = L).

    relu(z) = max(0, z); sigmoid(z) = 1 / (1 + exp(-z)).

    Arguments:
    X -- input data, shape (n_0, m)
    parameters -- dict with "W1", "b1", ..., "WL", "bL"

    Returns:
    AL -- output of the last layer, shape (n_L, m)
    cache -- list of L tuples (A_prev, W, b, Z, A), one per layer l = 1 .. L:
             (A[l-1], W[l], b[l], Z[l], A[l])
    """
    L = len(parameters) // 2
    cache = []
    # YOUR CODE HERE
    raise NotImplementedError()
    return AL, cache


def compute_loss(AL, Y):
    """Cross-entropy: loss = (1/m) nansum(-log(AL) Y - log(1 - AL) (1 - Y)).

    nansum skips the 0 * log(0) terms of units that saturated to the right answer.

    Arguments:
    AL -- output of forward_propagation, shape (n_L, m)
    Y -- true labels, shape (n_L, m)

    Returns:
    loss -- a float
    """
    m = Y.shape[1]
    # YOUR CODE HERE
    raise NotImplementedError()
    return loss


def backward_propagation(X, Y, cache):
    """Gradients of the loss, layer L down to 1.

    dZ[L] = (1/m) (A[L] - Y)
    dW[l] = dZ[l] A[l-1]^T              shape of W[l]
    db[l] = sum of dZ[l] over examples  shape (n_l, 1)
    dZ[l-1] = (W[l]^T dZ[l]) * (A[l-1] > 0)

    The 1/m is applied once, in dZ[L].

    Arguments:
    X -- input data, shape (n_0, m)
    Y -- true labels, shape (n_L, m)
    cache -- the list of L tuples (A_prev, W, b, Z, A) that forward_propagation returns

    Returns:
    grads -- dict with "dW1", "db1", ..., "dWL", "dbL"
    """
    m = X.shape[1]
    L = len(cache)
    grads = {}
    # YOUR CODE HERE
    raise NotImplementedError()
    return grads


def update_parameters(parameters, grads, learning_rate):
    """One step of gradient descent: W[l] = W[l] - learning_rate dW[l], b[l] likewise.

    Arguments:
    parameters -- dict with "W1", "b1", ..., "WL", "bL"
    grads -- dict with "dW1", "db1", ..., "dWL", "dbL"
    learning_rate -- a float

    Returns:
    parameters -- the updated dict
    """
    L = len(parameters) // 2
    # YOUR CODE HERE
    raise NotImplementedError()
    return parameters
