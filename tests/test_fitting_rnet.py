import pytest
import torch

from gsmoothface.errors import InputError, MissingAssetError
from gsmoothface.fitting.rnet import (
    N_COEFF,
    ReconNet,
    load_rnet,
    predict_coeff,
    save_rnet_checkpoint,
)


@pytest.fixture(scope="module")
def random_rnet() -> ReconNet:
    torch.manual_seed(0)
    net = ReconNet()
    # Non-zero heads so that predictions depend on the input and the weights.
    for layer in net.final_layers:
        torch.nn.init.normal_(layer.weight, std=0.01)
        torch.nn.init.normal_(layer.bias, std=0.01)
    return net.eval()


def test_backbone_keys_match_torchvision_resnet50():
    backbone = ReconNet().backbone.state_dict()
    # torchvision's resnet50 has 320 state_dict entries, 2 of them fc.weight/fc.bias.
    assert len(backbone) == 318
    assert sum(p.numel() for p in ReconNet().backbone.parameters()) == 23_508_032
    for key in (
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.num_batches_tracked",
        "layer2.0.conv2.weight",
        "layer3.5.bn3.bias",
        "layer4.2.conv3.weight",
    ):
        assert key in backbone
    assert "fc.weight" not in backbone
    assert backbone["layer2.0.conv2.weight"].shape == (128, 128, 3, 3)
    heads = ReconNet().state_dict()
    assert heads["final_layers.6.weight"].shape == (1, 2048, 1, 1)


def test_untrained_heads_predict_zero():
    crops = torch.randint(0, 256, (2, 224, 224, 3), dtype=torch.uint8)
    coeff = predict_coeff(ReconNet().eval(), crops, batch_size=2)
    assert coeff.shape == (2, N_COEFF)
    assert torch.count_nonzero(coeff) == 0


def test_checkpoint_round_trip(tmp_path, random_rnet):
    path = tmp_path / "epoch_20.pth"
    save_rnet_checkpoint(random_rnet, path)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"net_recon"}
    assert any(k.startswith("backbone.layer4.") for k in raw["net_recon"])
    loaded = load_rnet(path)
    assert not loaded.training
    crops = torch.randint(0, 256, (3, 224, 224, 3), dtype=torch.uint8)
    expected = predict_coeff(random_rnet, crops, batch_size=3)
    got = predict_coeff(loaded, crops, batch_size=2)  # batching must not change the result
    assert torch.allclose(got, expected, atol=1e-5)
    assert got.std() > 0


def test_missing_checkpoint_names_the_params_key(tmp_path):
    with pytest.raises(MissingAssetError, match=r"fit_3dmm\.rnet_checkpoint.*epoch_20\.pth"):
        load_rnet(tmp_path / "nope.pth")
    with pytest.raises(MissingAssetError, match="not set"):
        load_rnet(None)


def test_wrong_keys_fail_clearly(tmp_path, random_rnet):
    state = {f"module.{k}": v for k, v in random_rnet.state_dict().items()}
    path = tmp_path / "prefixed.pth"
    torch.save({"net_recon": state}, path)
    with pytest.raises(InputError, match=r"missing keys.*unexpected keys.*'module\.'"):
        load_rnet(path)

    path = tmp_path / "no_net_recon.pth"
    torch.save({"model": random_rnet.state_dict()}, path)
    with pytest.raises(InputError, match="expected a dict with key 'net_recon'"):
        load_rnet(path)

    state = dict(random_rnet.state_dict())
    state["final_layers.1.weight"] = torch.zeros(79, 2048, 1, 1)
    state["final_layers.1.bias"] = torch.zeros(79)
    path = tmp_path / "wrong_shape.pth"
    torch.save({"net_recon": state}, path)
    with pytest.raises(InputError, match="wrong shape"):
        load_rnet(path)

    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable torch checkpoint"):
        load_rnet(path)
