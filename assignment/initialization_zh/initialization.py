"""Initializing the parameters of a deep network.

Four ways to choose the starting weights of an L-layer network whose layer
sizes are ``layers_dims = [n_0, n_1, ..., n_L]``. Each function returns a dict
``{"W1": ..., "b1": ..., ..., "WL": ..., "bL": ...}`` with ``W{l}`` of shape
``(n_l, n_{l-1})`` and ``b{l}`` of shape ``(n_l, 1)``, float64 numpy arrays.

Draw the weights layer by layer, l = 1, 2, ..., L, after seeding numpy's
generator once with ``np.random.seed(3)``: then your numbers match ours.
"""

import numpy as np


def initialize_parameters_zeros(layers_dims):
    """All weights and biases 0.

    W[l] = 0 of shape (layers_dims[l], layers_dims[l-1]); b[l] = 0 of shape (layers_dims[l], 1).

    Arguments:
    layers_dims -- list of the layer sizes, input first, e.g. [2, 10, 5, 1]

    Returns:
    parameters -- dict with "W1", "b1", ..., "WL", "bL"
    """
    parameters = {}
    L = len(layers_dims)  # number of layers, counting the input
    for l in range(1, L):
        # YOUR CODE HERE
        raise NotImplementedError()
    return parameters


def initialize_parameters_random(layers_dims):
    """Large random weights, zero biases.

    W[l] = np.random.randn(layers_dims[l], layers_dims[l-1]) * 10;
    b[l] = 0 of shape (layers_dims[l], 1).

    Arguments:
    layers_dims -- list of the layer sizes, input first

    Returns:
    parameters -- dict with "W1", "b1", ..., "WL", "bL"
    """
    np.random.seed(3)  # so that your "random" numbers are ours
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        # YOUR CODE HERE
        raise NotImplementedError()
    return parameters


def initialize_parameters_he(layers_dims):
    """He initialization (He et al., 2015), made for ReLU layers.

    W[l] = np.random.randn(layers_dims[l], layers_dims[l-1]) * sqrt(2 / layers_dims[l-1]);
    b[l] = 0 of shape (layers_dims[l], 1).

    Arguments:
    layers_dims -- list of the layer sizes, input first

    Returns:
    parameters -- dict with "W1", "b1", ..., "WL", "bL"
    """
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        # YOUR CODE HERE
        raise NotImplementedError()
    return parameters


def initialize_parameters_xavier(layers_dims):
    """Xavier initialization (Glorot and Bengio, 2010).

    W[l] = np.random.randn(layers_dims[l], layers_dims[l-1]) * sqrt(1 / layers_dims[l-1]);
    b[l] = 0 of shape (layers_dims[l], 1).

    Arguments:
    layers_dims -- list of the layer sizes, input first

    Returns:
    parameters -- dict with "W1", "b1", ..., "WL", "bL"
    """
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        # YOUR CODE HERE
        raise NotImplementedError()
    return parameters
