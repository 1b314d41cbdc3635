def train_step(x, y):
    x, y = x.data, y.data
    W1 = _W1.data
    b1 = _b1.data
    W2 = _W2.data
    b2 = _b2.data
    # forward
    z1 = x @ W1.T + b1
    a1 = sigmoid(z1)
    t2 = W2.T
    z2 = a1 @ t2 + b2
    a2 = sigmoid(z2)
    t3 = a2 - y
    loss = (t3 * t3).sum() * 0.25
    # backward
    delta2 = t3 * np.float64(0.5) * (a2 * (1 - a2))
    grad_b2 = delta2.sum(axis=(0,))
    grad_W2 = delta2.mT @ a1
    delta1 = delta2 @ t2.mT * (a1 * (1 - a1))
    grad_b1 = delta1.sum(axis=(0,))
    grad_W1 = delta1.mT @ x
    # optimizer step: SGD
    W1 -= 0.1 * grad_W1
    b1 -= 0.1 * grad_b1
    W2 -= 0.1 * grad_W2
    b2 -= 0.1 * grad_b2
    bump_version(W1, b1, W2, b2)
    _W1._grad = _wrap(grad_W1)
    _b1._grad = _wrap(grad_b1)
    _W2._grad = _wrap(grad_W2)
    _b2._grad = _wrap(grad_b2)
    return _wrap(loss)
