"""What the released code of each comparison method fixes, pinned: parameter counts derived layer by layer from the
released files (cited), feature-map sizes, heads and initialisation. The routing of Capsule-Forensics is pinned on a
fixed input in nbs/48_capsule.ipynb, the key mapping of the ImageNet Xception file in nbs/46_xception.ipynb."""
import pretrainedmodels
import torch
from torch import nn

from bigarts.methods import build_method

trained = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)
conv = lambda cin, cout, k, bias=True: cin * cout * k * k + (cout if bias else 0)


def test_capsule_as_model_big():
    "nii-yamagishilab/Capsule-Forensics-v2, model_big.py: VggExtractor, FeatureExtractor, RoutingLayer, weights_init."
    m = build_method("capsule")
    # VggExtractor: vgg19.features[0:19] (Vgg(…, 0, 18) keeps children begin…end+1): conv1_1 … conv3_4 and pool3
    vgg = conv(3, 64, 3) + conv(64, 64, 3) + conv(64, 128, 3) + conv(128, 128, 3) + conv(128, 256, 3) + 3 * conv(256, 256, 3)
    assert sum(p.numel() for p in m.vgg.parameters()) == vgg == 2_325_568 and trained(m.vgg) == 0
    assert isinstance(m.vgg[-1], nn.MaxPool2d)
    with torch.no_grad(): f = m.vgg(torch.zeros(1, 3, 300, 300))
    assert f.shape == (1, 256, 37, 37)                                       # stride 8 at --imageSize 300
    # FeatureExtractor: 10 × [Conv2d(256, 64, 3), BN(64), Conv2d(64, 16, 3), BN(16), Conv1d(2, 8, 5), BN1d(8), Conv1d(8, 1, 3), BN1d(1)]
    capsule = conv(256, 64, 3) + 2 * 64 + conv(64, 16, 3) + 2 * 16 + (2 * 8 * 5 + 8) + 2 * 8 + (8 * 1 * 3 + 1) + 2 * 1
    routing = 2 * 10 * 4 * 8                                                 # route_weights (out caps, in caps, data_out 4, data_in 8)
    assert trained(m.primary) == 10 * capsule == 1_570_430 and trained(m.routing) == routing
    assert trained(m) == 1_571_070
    # weights_init: conv weights N(0, 0.02), BN weights N(1, 0.02) and biases 0; route_weights torch.randn
    w = torch.cat([p.weight.flatten() for p in m.primary.modules() if isinstance(p, (nn.Conv1d, nn.Conv2d))])
    g = torch.cat([p.weight.flatten() for p in m.primary.modules() if isinstance(p, nn.modules.batchnorm._BatchNorm)])
    assert abs(w.mean()) < 1e-3 and abs(w.std() - 0.02) < 1e-3 and abs(g.mean() - 1) < 5e-3 and abs(g.std() - 0.02) < 5e-3
    assert abs(m.routing.W.std() - 1) < 0.15


def test_xception_as_faceforensics():
    """ondyari/FaceForensics classification/network/models.py: the pretrainedmodels Xception with last_linear replaced by
    nn.Linear(2048, classes), no dropout (model_selection passes none); here one logit."""
    port = pretrainedmodels.xception(num_classes=1, pretrained=None)
    for name in ("xception", "rfm"):                                         # RFM train.py: xception(num_classes=2, pretrained=False)
        m = build_method(name)
        assert trained(m) == trained(port) == 22_855_952 - 2048 * 1000 - 1000 + 2048 + 1
        assert not any(isinstance(layer, nn.Dropout) for layer in m.modules()), name


def test_rfm_crops_as_its_loader():
    "crywang/RFM utils/datasets_profiles.py: Resize(256), RandomCrop(224) + RandomHorizontalFlip in training, CenterCrop(224) at test."
    m = build_method("rfm")
    seen = []
    m.backbone.register_forward_pre_hook(lambda mod, a: seen.append(a[0].shape[-1]))
    with torch.no_grad(): m.eval()(torch.rand(1, 3, 256, 256))
    m.train()(torch.rand(2, 3, 256, 256))
    assert seen == [224, 224, 224]                                           # test; FAM pass and training pass


def test_gsrm_as_model_core():
    """crywang/face-forgery-detection src/model_core.py (Two_Stream_Net), components/srm_conv.py, components/attention.py,
    networks/xception.py: every layer counted from those files at 256²; the kit leaves out the SRM stream's unused last
    layer and has one logit instead of two."""
    xception = 22_855_952 - 2048 * 1000 - 1000                               # each stream without its classifier
    srm_separate = lambda c: conv(3 * c, c, 1, bias=False) + 2 * c           # SRMConv2d_Separate: out_conv (kernel fixed)
    pixel_attention = conv(3, 32, 3, False) + 64 + conv(32, 64, 3, False) + 128 + conv(2, 1, 7, False)   # SRMPixelAttention
    dcma = 2 * conv(728, 91, 1) + conv(91, 91, 1) + 2 * (256 * 256 + 256) + 2 * conv(728, 728, 1) + 2   # 16×16 positions
    fusion = conv(4096, 2048, 1, False) + 2 * 2048 + conv(2048, 128, 1, False) + conv(128, 2048, 1, False)
    head = 2048 + 1
    expected = 2 * xception + srm_separate(32) + srm_separate(64) + pixel_attention + 2 * 64 + 2 * dcma + fusion + head
    assert trained(build_method("gsrm", size=256)) == expected == 53_236_331
