"""Planar data classification with one hidden layer.

The model: LINEAR -> TANH -> LINEAR -> SIGMOID, for a binary label. ``X`` has
shape (n_x, m), one example per column; ``Y`` has shape (n_y, m).
"""

import numpy as np


def sigmoid(z):
    """1 / (1 + exp(-z)), element-wise."""
    return 1 / (1 + np.exp(-z))


def layer_sizes(X, Y):
    """The sizes of the three layers.

    Arguments:
    X -- input data, shape (n_x, m)
    Y -- labels, shape (n_y, m)

    Returns:
    n_x -- the size of the input layer
    n_h -- the size of the hidden layer (4)
    n_y -- the size of the output layer
    """
    # YOUR CODE HERE
    raise NotImplementedError()
    return (n_x, n_h, n_y)


def initialize_parameters(n_x, n_h, n_y):
    """Small random weights, zero biases: W1 = randn(n_h, n_x) * 0.01, W2 = randn(n_y, n_h) * 0.01.

    Draw W1 first, then W2, with np.random.randn.

    Returns:
    parameters -- dict with "W1" (n_h, n_x), "b1" (n_h, 1), "W2" (n_y, n_h), "b2" (n_y, 1)
    """
    # YOUR CODE HERE
    raise NotImplementedError()
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def forward_propagation(X, parameters):
    """Z1 = W1 X + b1, A1 = tanh(Z1), Z2 = W2 A1 + b2, A2 = sigmoid(Z2).

    Returns:
    A2 -- the output, shape (n_y, m)
    cache -- dict with "Z1", "A1", "Z2", "A2"
    """
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    # YOUR CODE HERE
    raise NotImplementedError()
    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
    return A2, cache


def compute_cost(A2, Y):
    """Cross-entropy: cost = -(1/m) sum(Y log(A2) + (1 - Y) log(1 - A2)).

    Returns:
    cost -- a float
    """
    m = Y.shape[1]
    # YOUR CODE HERE
    raise NotImplementedError()
    return cost


def backward_propagation(parameters, cache, X, Y):
    """Gradients of the cost.

    dZ2 = A2 - Y;  dW2 = (1/m) dZ2 A1^T;  db2 = (1/m) sum(dZ2, axis=1, keepdims=True)
    dZ1 = W2^T dZ2 * (1 - A1^2);  dW1 = (1/m) dZ1 X^T;  db1 = (1/m) sum(dZ1, axis=1, keepdims=True)

    Returns:
    grads -- dict with "dW1", "db1", "dW2", "db2"
    """
    m = X.shape[1]
    W2 = parameters["W2"]
    A1, A2 = cache["A1"], cache["A2"]
    # YOUR CODE HERE
    raise NotImplementedError()
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def update_parameters(parameters, grads, learning_rate=1.2):
    """One step of gradient descent: W = W - learning_rate dW, b likewise.

    Returns:
    parameters -- the updated dict
    """
    # YOUR CODE HERE
    raise NotImplementedError()
    return updated


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):
    """Train the network: np.random.seed(3), initialize, then num_iterations steps of
    forward propagation, cost, backward propagation and update (learning rate 1.2).

    Returns:
    parameters -- the trained dict
    """
    np.random.seed(3)
    n_x, n_y = X.shape[0], Y.shape[0]
    # YOUR CODE HERE
    raise NotImplementedError()
    return parameters


def predict(parameters, X):
    """1 where the network's output is above 0.5, else 0.

    Returns:
    predictions -- shape (1, m)
    """
    # YOUR CODE HERE
    raise NotImplementedError()
    return predictions
