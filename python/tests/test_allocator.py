"""The extension's recycling allocator (python/swiftrnn/_csrc/alloc.c): arrays it makes own their memory as
any NumPy array, zeroed arrays are zeros even when their block was recycled, freed blocks are reused for the
next array of the same size, and the cache stays within its bounds."""

from __future__ import annotations

import gc

import numpy as np

import swiftrnn
from swiftrnn import _native, nn


def test_arrays_own_their_memory():
    a = _native.float32_empty((300, 200))
    z = _native.float32_zeros((300, 200))
    for x in (a, z):
        assert x.dtype == np.float32 and x.shape == (300, 200)
        assert x.base is None and x.flags.owndata and x.flags.c_contiguous and x.flags.writeable
    assert not np.shares_memory(a, z)
    assert not z.any()


def test_freed_blocks_are_reused_and_zeros_are_zeros():
    shape = (513, 129)  # a size nothing else here uses
    a = _native.float32_empty(shape)
    a.fill(7.0)
    address = a.__array_interface__["data"][0]
    del a
    gc.collect()
    b = _native.float32_zeros(shape)
    assert b.__array_interface__["data"][0] == address  # the dirty block, recycled
    assert not b.any()
    b.fill(3.0)
    c = _native.float32_zeros(shape)  # b is alive: a different block
    assert c.__array_interface__["data"][0] != b.__array_interface__["data"][0]
    assert not c.any() and (b == 3.0).all()


def test_small_arrays_and_other_dtypes_work():
    assert _native.float32_zeros(()).shape == () and float(_native.float32_zeros(())) == 0.0
    assert _native.float32_empty((0, 5)).shape == (0, 5)
    x = _native.float32_zeros((3,))
    x.resize((10,), refcheck=False)  # realloc through the handler
    assert x.shape == (10,)


def test_cache_is_bounded():
    keep = [_native.float32_empty((1024 * (i + 1), 64)) for i in range(80)]  # 80 sizes, 256 KB ... 20 MB
    del keep
    gc.collect()
    blocks, nbytes = _native.allocator_cache_info()
    assert blocks <= 48 and nbytes <= 96 * 1024 * 1024


def test_training_outputs_are_independent_arrays():
    swiftrnn.manual_seed(0)
    fc = nn.Linear(64, 300)
    x = np.random.default_rng(0).standard_normal((400, 64)).astype(np.float32)
    y1 = fc(x)
    first = y1.copy()
    for _ in range(3):
        y2 = fc(x + 1)
        assert not np.shares_memory(y1, y2)
    np.testing.assert_array_equal(y1, first)  # later calls never write into an earlier output
    del y1
    y3 = fc(x)
    np.testing.assert_array_equal(y3, first)
