"""optim.Newton, NewtonCG, CG, LBFGS against scipy.optimize.minimize and torch.optim.LBFGS.

Counting: every closure call is one function evaluation (the cost and its gradient, as scipy's nfev with
jac=True); an iteration is a change of the direction (scipy's nit, the callback's calls). The work to
reach ‖∇C‖₂ < 1e-8 is read from a log written at each evaluation: the first evaluation whose gradient
is that small, with the iteration it belongs to and the evaluations so far. Both sides are logged the same way.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize as so

import tinygrad_edu as tg
from tinygrad_edu import optim

TOL = 1e-8


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _problems():
    """name -> (cost on Tensors, C, ∇C, H in numpy, start)."""
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    A = Q @ np.diag(np.logspace(0, 1, 10)) @ Q.T  # curvatures 1 to 10
    c = rng.normal(size=10)
    X = rng.normal(size=(200, 5))
    y = np.where(X @ rng.normal(size=5) + 0.5 * rng.normal(size=200) > 0, 1.0, -1.0)
    alpha = 1e-2  # (an L2 term, so that the minimum is finite)

    def rosenbrock(w):
        return (100 * (w[1:] - w[:-1] ** 2) ** 2 + (1 - w[:-1]) ** 2).sum()

    def quadratic(w):
        e = w - tg.tensor(c)
        return 0.5 * (e @ (tg.tensor(A) @ e))

    def logistic(w):
        return ((-(tg.tensor(y) * (tg.tensor(X) @ w))).exp() + 1).log().mean() + 0.5 * alpha * (w @ w)

    return {
        "rosenbrock 2-D": (rosenbrock, so.rosen, so.rosen_der, so.rosen_hess, np.array([-1.2, 1.0])),
        "rosenbrock 10-D": (rosenbrock, so.rosen, so.rosen_der, so.rosen_hess, np.tile([-1.2, 1.0], 5)),
        "quadratic 10-D": (quadratic, lambda w: 0.5 * (w - c) @ A @ (w - c), lambda w: A @ (w - c),
                           lambda w: A, np.zeros(10)),
        "logistic regression": (
            logistic, lambda w: np.mean(np.logaddexp(0, -y * (X @ w))) + 0.5 * alpha * w @ w,
            lambda w: -(X.T @ (y * _sigmoid(-y * (X @ w)))) / len(y) + alpha * w,
            lambda w: (X.T * (_sigmoid(y * (X @ w)) * _sigmoid(-y * (X @ w)))) @ X / len(y) + alpha * np.eye(5),
            np.zeros(5)),
    }


PROBLEMS = _problems()

# scipy's method -> ours, with tolerances so tight that only the log decides when ‖∇C‖ < 1e-8 was reached
OURS = {
    "Newton-CG": lambda p: optim.NewtonCG(p, max_iter=1000, tolerance_grad=1e-14, tolerance_change=0),
    "CG": lambda p: optim.CG(p, max_iter=5000, max_eval=20000, tolerance_grad=1e-14, tolerance_change=0),
    "L-BFGS-B": lambda p: optim.LBFGS(p, max_iter=5000, max_eval=20000, history_size=10, curvature_eps=2.2e-16,
                                      tolerance_grad=1e-14, tolerance_change=0, line_search_fn="strong_wolfe"),
    "trust-exact": lambda p: optim.Newton(p, max_iter=1000, tolerance_grad=1e-14, tolerance_change=0),
}


def _first_below(log):
    return next(((it, ev) for it, ev, gnorm in log if gnorm < TOL), None)


def scipy_work(method, f, g, H, x0):
    log, iterations, evals = [], [0], [0]

    def fun(x):
        evals[0] += 1
        log.append((iterations[0] + 1, evals[0], np.linalg.norm(g(x))))
        return f(x), g(x)

    kw = {"jac": True, "callback": lambda *a: iterations.__setitem__(0, iterations[0] + 1)}
    if method == "Newton-CG":
        kw.update(hessp=lambda x, p: H(x) @ p, options={"xtol": 1e-14, "maxiter": 1000})
    elif method == "trust-exact":
        kw.update(hess=H, options={"gtol": 1e-12, "maxiter": 1000})
    elif method == "CG":
        kw.update(options={"gtol": 1e-12, "maxiter": 5000})
    else:
        kw.update(options={"gtol": 1e-12, "ftol": 0, "maxiter": 5000})
    result = so.minimize(fun, x0, method=method, **kw)
    return _first_below(log), result.x


def our_work(make, cost, g, x0):
    w = tg.tensor(x0.copy(), requires_grad=True)
    opt, log = make([w]), []

    def closure():
        counts = opt.counts
        log.append((max(counts.get("n_iter", 0), 1), counts.get("func_evals", 0) + 1, np.linalg.norm(g(w.numpy()))))
        return cost(w)

    for _ in range(20):
        opt.step(closure)
        if np.linalg.norm(g(w.numpy())) < TOL:
            break
    return _first_below(log), w.numpy(), opt


@pytest.mark.parametrize("method", list(OURS))
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_as_fast_as_scipy_to_the_same_minimum(problem, method):
    cost, f, g, H, x0 = PROBLEMS[problem]
    theirs, x_theirs = scipy_work(method, f, g, H, x0)
    ours, x_ours, _ = our_work(OURS[method], cost, g, x0)
    assert theirs is not None, f"scipy's {method} did not reach ‖∇C‖ < {TOL}"
    assert ours is not None, f"{method}: ours did not reach ‖∇C‖ < {TOL}"
    (it, ev), (it_s, ev_s) = ours, theirs
    assert it <= 1.5 * it_s and ev <= 1.5 * ev_s, f"{problem}, {method}: ours {it} iterations, {ev} evaluations; scipy {it_s}, {ev_s}"
    np.testing.assert_allclose(x_ours, x_theirs, atol=1e-6)


@pytest.mark.parametrize("n", [3, 10])
def test_cg_on_a_quadratic_converges_in_n_steps(n):
    rng = np.random.default_rng(n)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A, b = Q @ np.diag(np.logspace(0, 1, n)) @ Q.T, rng.normal(size=n)
    w = tg.tensor(np.zeros(n), requires_grad=True)
    opt = optim.CG([w], max_iter=n, max_eval=100 * n, tolerance_grad=0, tolerance_change=0, c2=0.1)
    opt.step(lambda: 0.5 * (w @ (tg.tensor(A) @ w)) - tg.tensor(b) @ w)
    assert opt.counts["n_iter"] == n
    assert np.linalg.norm(A @ w.numpy() - b) < 1e-9 * np.linalg.norm(b)


def test_newton_is_exact_on_a_quadratic_and_refuses_a_large_problem():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    w = tg.tensor([5.0, -4.0], requires_grad=True)
    opt = optim.Newton([w])
    opt.step(lambda: 0.5 * (w @ (tg.tensor(A) @ w)) - w.sum())
    np.testing.assert_allclose(w.numpy(), np.linalg.solve(A, [1.0, 1.0]), atol=1e-12)
    assert opt.counts["n_iter"] == 1 and opt.counts["hvp_evals"] == 2
    with pytest.raises(ValueError, match=r"1001×1001 Hessian.*max_params=1000.*NewtonCG"):
        optim.Newton([tg.zeros(1001, requires_grad=True)])


def test_damped_newton_leaves_a_saddle_for_a_minimum():
    # C = x⁴/4 − x²/2 + y²/2: a saddle at 0, minima at x = ±1; H is indefinite near x = 0,
    # where the undamped step would jump to the saddle
    w = tg.tensor([0.1, 1.0], requires_grad=True)

    def cost():
        return w[0] ** 4 / 4 - w[0] ** 2 / 2 + w[1] ** 2 / 2

    opt, values = optim.Newton([w], max_iter=1), []
    for _ in range(30):
        values.append(opt.step(cost).item())
    np.testing.assert_allclose(np.abs(w.numpy()), [1.0, 0.0], atol=1e-8)
    assert np.all(np.diff(values) <= 1e-15), "a refused step leaves C as it was; an accepted one lowers it"


def test_newton_needs_the_costs_graph_and_says_so():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Newton([w])

    def closure():
        opt.zero_grad()
        c = (w * w).sum()
        c.backward()
        return c

    with pytest.raises(RuntimeError, match="without calling backward"):
        opt.step(closure)
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="one-element Tensor"):
        opt.step(lambda: w * w)


def test_lbfgs_and_cg_accept_pytorchs_closure():
    """A closure that calls backward (PyTorch's) and one that only returns the cost: the same iterates."""
    for make in (lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe"), lambda p: optim.CG(p)):
        ends = []
        for calls_backward in (True, False):
            w = tg.tensor([-1.2, 1.0], requires_grad=True)
            opt = make([w])

            def closure():
                opt.zero_grad()
                c = (100 * (w[1] - w[0] ** 2) ** 2 + (1 - w[0]) ** 2)
                if calls_backward:
                    c.backward()
                return c

            for _ in range(10):
                opt.step(closure)
            ends.append(w.numpy().copy())
        np.testing.assert_array_equal(ends[0], ends[1])
        np.testing.assert_allclose(ends[0], [1.0, 1.0], atol=1e-4)  # (tolerance_change=1e-9 stops it there)


def test_settings_are_checked():
    w = tg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(ValueError, match="one parameter group"):
        optim.LBFGS([{"params": [w]}, {"params": [tg.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="max_iter must be a positive integer"):
        optim.CG([w], max_iter=0)
    with pytest.raises(ValueError, match="damping must be >= 0"):
        optim.NewtonCG([w], damping=-1)


@pytest.mark.parametrize("make", [lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe"), lambda p: optim.CG(p),
                                  lambda p: optim.NewtonCG(p, damping=1e-3), lambda p: optim.Newton(p, max_iter=5)],
                         ids=["LBFGS", "CG", "NewtonCG", "Newton"])
def test_fit_trains_with_a_closure_optimizer(make):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(64, 1))
    y = np.sin(2 * X)
    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Linear(1, 4), tg.nn.Tanh(), tg.nn.Linear(4, 1))
    opt = make(model.parameters())
    history = tg.fit(model, (X, y), "mse", opt, epochs=5, batch_size=64, progress=False)
    assert history.train_loss[-1] < 1e-2 * history.train_loss[0]
    assert opt.counts["n_iter"] > 5  # several iterations per call of step


# ---------------------------------------------------------------------------------------------------------------
# torch.optim.LBFGS, where PyTorch is installed
# ---------------------------------------------------------------------------------------------------------------

CASES = [("strong_wolfe", {"max_iter": 20}), ("strong_wolfe", {"max_iter": 3, "history_size": 3}),
         (None, {"lr": 0.1, "max_iter": 1}), (None, {"lr": 0.2, "max_iter": 5})]


@pytest.mark.parametrize("n", [2, 10])
@pytest.mark.parametrize("line_search, settings", CASES)
def test_lbfgs_follows_torch(n, line_search, settings):
    torch = pytest.importorskip("torch")
    if n == 2 and line_search is None and settings["lr"] == 0.2:
        pytest.skip("this case diverges (C grows), where rounding differences grow too")
    x0 = np.tile([-1.2, 1.0], n // 2)

    def path(make_tensor, make_opt, to_numpy, counts):
        x = make_tensor(x0)
        opt = make_opt(x)

        def closure():
            opt.zero_grad()
            c = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
            c.backward()
            return c

        points = [to_numpy(x)]
        for _ in range(30):
            opt.step(closure)
            points.append(to_numpy(x))
        return np.array(points), counts(opt, x)

    theirs, their_counts = path(lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True),
                                lambda x: torch.optim.LBFGS([x], line_search_fn=line_search, **settings),
                                lambda x: x.detach().numpy().copy(),
                                lambda opt, x: (opt.state[x]["n_iter"], opt.state[x]["func_evals"]))
    ours, our_counts = path(lambda a: tg.tensor(a, requires_grad=True),
                            lambda x: optim.LBFGS([x], line_search_fn=line_search, **settings),
                            lambda x: x.numpy().copy(),
                            lambda opt, x: (opt.counts["n_iter"], opt.counts["func_evals"]))
    np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)
    assert our_counts == their_counts


def test_newton_says_when_the_cost_overflows():
    w = tg.tensor([800.0], requires_grad=True)
    with pytest.raises(FloatingPointError, match="not finite at step 1"):
        optim.Newton([w]).step(lambda: w.exp().sum())
