"""The --device option: checked up front, with the best device as the default."""

import pytest

torch = pytest.importorskip("torch")

from motionscore.server.model.device import resolve_device  # noqa: E402


def test_default_is_cuda_only_when_a_gpu_is_usable():
    assert resolve_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ["cpu", "cpu:0"])
def test_the_cpu_is_always_accepted_as_written(name):
    assert resolve_device(name) == name


@pytest.mark.parametrize("name", ["foo", "gpu", "cuda:x", ""])
def test_unknown_names_are_refused_in_one_line(name):
    with pytest.raises(ValueError, match="unknown device") as info:
        resolve_device(name)
    assert "\n" not in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_missing_gpu_is_an_input_error_not_a_driver_traceback():
    with pytest.raises(ValueError, match="no usable CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_gpu_index_beyond_the_machine_is_refused():
    with pytest.raises(ValueError, match="CUDA GPU"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")
