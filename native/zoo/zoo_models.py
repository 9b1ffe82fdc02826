"""The zoo's architectures: paddle.vision.models, paddle.nn recurrent layers, paddlenlp ERNIE and
BERT, and small models built from paddle's own layers with the op sets of ViT, a segmentation
net, PP-OCR (DB detection, CRNN / SVTR recognition), PP-YOLOE / PP-YOLO (with multiclass_nms3
and yolo_box) and PP-LiteSeg. Small inputs and widths keep the cold generation short; the
architecture (op types, attributes, graph shape) is what is being tested, not the size.

Each Arch gives: how to build the layer, its InputSpec (batch dynamic, sequence dims dynamic
where the model has one), and the inputs of a case at a batch size.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from zoo_arch import Arch, image_inputs


ARCHS: list[Arch] = []


def add(name, family, build, specs, make_inputs, prefix="model"):
    ARCHS.append(Arch(name, family, build, specs, make_inputs, seed=1000 + len(ARCHS), prefix=prefix))


# ---------------------------------------------------------------------------------------------
# paddle.vision.models (num_classes=10 where the head is a classifier; small inputs)

V = paddle.vision.models


def vision(name, build, size=64, channels=3):
    add(name, "vision", build, [("x", [None, channels, size, size], "float32")], image_inputs(channels, size, size))


vision("resnet18", lambda: V.resnet18(num_classes=10))
vision("resnet50", lambda: V.resnet50(num_classes=10))
vision("resnext50_32x4d", lambda: V.resnext50_32x4d(num_classes=10))
vision("mobilenet_v1", lambda: V.mobilenet_v1(scale=0.25, num_classes=10))
vision("mobilenet_v2", lambda: V.mobilenet_v2(scale=0.25, num_classes=10))
vision("mobilenet_v3_small", lambda: V.mobilenet_v3_small(scale=0.5, num_classes=10))
vision("mobilenet_v3_large", lambda: V.mobilenet_v3_large(scale=0.35, num_classes=10))
# VGG and AlexNet: the convolutional trunk (num_classes=0 drops the 100M-parameter classifier,
# whose linear/relu/dropout ops every other model here has).
vision("vgg11", lambda: V.vgg11(batch_norm=True, num_classes=0), size=32)  # the batch-norm variant
vision("vgg16", lambda: V.vgg16(num_classes=0), size=32)
vision("alexnet", lambda: V.alexnet(num_classes=0))
vision("squeezenet1_0", lambda: V.squeezenet1_0(num_classes=10))
vision("squeezenet1_1", lambda: V.squeezenet1_1(num_classes=10))
vision("shufflenet_v2_x0_25", lambda: V.shufflenet_v2_x0_25(num_classes=10))
vision("shufflenet_v2_swish", lambda: V.shufflenet_v2_swish(num_classes=10))
vision("densenet121", lambda: V.densenet121(num_classes=10))
vision("googlenet", lambda: V.googlenet(num_classes=10), size=224)
vision("inception_v3", lambda: V.inception_v3(num_classes=10), size=96)
vision("lenet", lambda: V.LeNet(num_classes=10), size=28, channels=1)
# The other depths / widths of the families above (same op sets; the deepest and widest
# ResNe(X)ts and densenet264 are in zoo_large.py, a zoo of their own).
vision("resnet34", lambda: V.resnet34(num_classes=10))
vision("vgg13", lambda: V.vgg13(num_classes=0), size=32)
vision("vgg19", lambda: V.vgg19(num_classes=0), size=32)
vision("densenet161", lambda: V.densenet161(num_classes=10))
vision("densenet169", lambda: V.densenet169(num_classes=10))
vision("densenet201", lambda: V.densenet201(num_classes=10))
for _scale in ("0_33", "0_5", "1_0", "1_5", "2_0"):
    vision(f"shufflenet_v2_x{_scale}", (lambda f: lambda: f(num_classes=10))(getattr(V, f"shufflenet_v2_x{_scale}")))


# ---------------------------------------------------------------------------------------------
# paddle.nn recurrent layers: batch and sequence dims dynamic, optional sequence lengths

class Recurrent(nn.Layer):
    def __init__(self, rnn, with_lengths):
        super().__init__()
        self.rnn = rnn
        self.with_lengths = with_lengths

    def forward(self, x, lengths=None):
        y, state = self.rnn(x, sequence_length=lengths)
        if isinstance(state, (tuple, list)):  # LSTM: (h, c)
            return y, state[0], state[1]
        return y, state


FEAT, SEQ = 12, 7


def seq_inputs(with_lengths):
    # Batch 1 and batch 4 differ in sequence length too (the time dim is dynamic).
    def make(rng, b):
        steps = SEQ if b == 1 else SEQ - 2
        out = {"x": rng.standard_normal((b, steps, FEAT)).astype("float32")}
        if with_lengths:
            out["lengths"] = np.array([steps, 3, 4, 1][:b] if b > 1 else [5], dtype="int64")
        return out
    return make


def recurrent(name, make_rnn, with_lengths):
    specs = [("x", [None, None, FEAT], "float32")]
    if with_lengths:
        specs.append(("lengths", [None], "int64"))
    add(name, "rnn", lambda: Recurrent(make_rnn(), with_lengths), specs, seq_inputs(with_lengths))


recurrent("lstm", lambda: nn.LSTM(FEAT, 16), False)
recurrent("lstm_2layer_bidirect_len", lambda: nn.LSTM(FEAT, 16, num_layers=2, direction="bidirect"), True)
recurrent("lstm_bidirect", lambda: nn.LSTM(FEAT, 16, direction="bidirect"), False)
recurrent("gru_2layer", lambda: nn.GRU(FEAT, 16, num_layers=2), False)
recurrent("gru_bidirect_len", lambda: nn.GRU(FEAT, 16, direction="bidirect"), True)
recurrent("simple_rnn_tanh_2layer_bidirect", lambda: nn.SimpleRNN(FEAT, 16, num_layers=2, direction="bidirect"), False)
recurrent("simple_rnn_relu_len", lambda: nn.SimpleRNN(FEAT, 16, activation="relu"), True)


# ---------------------------------------------------------------------------------------------
# shared building blocks

class ConvBN(nn.Layer):
    def __init__(self, cin, cout, k=3, s=1, groups=1, act="relu", padding=None):
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, k, stride=s, padding=(k - 1) // 2 if padding is None else padding,
                              groups=groups, bias_attr=False)
        self.bn = nn.BatchNorm2D(cout)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        if self.act == "relu":
            return F.relu(x)
        if self.act == "hardswish":
            return F.hardswish(x)
        if self.act == "swish":
            return F.swish(x)
        if self.act == "silu":
            return F.silu(x)
        return x


class SE(nn.Layer):  # PP-OCRv3 / MobileNetV3 style squeeze-excite
    def __init__(self, c, r=4):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.c1 = nn.Conv2D(c, c // r, 1)
        self.c2 = nn.Conv2D(c // r, c, 1)

    def forward(self, x):
        a = F.hardsigmoid(self.c2(F.relu(self.c1(self.pool(x)))), slope=0.2, offset=0.5)
        return x * a


class Backbone(nn.Layer):
    """Four stages at strides 4, 8, 16, 32 (depthwise-separable, hardswish, SE)."""

    def __init__(self, chans=(8, 16, 24, 32), act="hardswish"):
        super().__init__()
        self.stem = ConvBN(3, chans[0], 3, 2, act=act)
        stages = []
        cin = chans[0]
        for i, c in enumerate(chans):
            s = 2
            stages.append(nn.Sequential(
                ConvBN(cin, cin, 3, s, groups=cin, act=act),
                ConvBN(cin, c, 1, 1, act=act),
                SE(c) if i >= 2 else nn.Identity(),
            ))
            cin = c
        self.stages = nn.LayerList(stages)

    def forward(self, x):
        x = self.stem(x)
        outs = []
        for s in self.stages:
            x = s(x)
            outs.append(x)
        return outs  # strides 4, 8, 16, 32


# ---------------------------------------------------------------------------------------------
# CRNN OCR head (conv -> height 1 -> bidirectional LSTM -> CTC linear + softmax)

class CRNN(nn.Layer):
    def __init__(self, classes=20):
        super().__init__()
        self.convs = nn.Sequential(
            ConvBN(3, 8), nn.MaxPool2D(2, 2),
            ConvBN(8, 16), nn.MaxPool2D(2, 2),
            ConvBN(16, 24), nn.MaxPool2D((2, 1), (2, 1)),
            ConvBN(24, 32), nn.MaxPool2D((4, 1), (4, 1)),
        )
        self.rnn = nn.LSTM(32, 24, num_layers=2, direction="bidirect")
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        x = self.convs(x)  # N, 32, 1, W/4
        x = paddle.squeeze(x, axis=2).transpose([0, 2, 1])
        x, _ = self.rnn(x)
        return F.softmax(self.fc(x), axis=2)


add("crnn_ocr", "ocr", CRNN, [("x", [None, 3, 32, 64], "float32")], image_inputs(3, 32, 64), prefix="inference")


# ---------------------------------------------------------------------------------------------
# ViT

class ViT(nn.Layer):
    def __init__(self, size=32, patch=8, dim=32, depth=2, heads=4, classes=10):
        super().__init__()
        self.patch = nn.Conv2D(3, dim, patch, stride=patch)
        n = (size // patch) ** 2
        self.cls = self.create_parameter([1, 1, dim], default_initializer=nn.initializer.Normal(0, 0.02))
        self.pos = self.create_parameter([1, n + 1, dim], default_initializer=nn.initializer.Normal(0, 0.02))
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, activation="gelu", normalize_before=True)
        self.encoder = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(dim, epsilon=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose([0, 2, 1])
        cls = self.cls.expand([x.shape[0], -1, -1])
        x = paddle.concat([cls, x], axis=1) + self.pos
        x = self.norm(self.encoder(x))
        return self.head(x[:, 0])


add("vit", "transformer", ViT, [("x", [None, 3, 32, 32], "float32")], image_inputs(3, 32, 32))


# ---------------------------------------------------------------------------------------------
# segmentation: encoder, transposed convolution, bilinear / nearest interpolation, skip concat

class SegNet(nn.Layer):
    def __init__(self, classes=5):
        super().__init__()
        self.e1 = ConvBN(3, 8, 3, 2)
        self.e2 = ConvBN(8, 16, 3, 2)
        self.e3 = ConvBN(16, 24, 3, 2)
        self.up = nn.Conv2DTranspose(24, 16, 4, stride=2, padding=1)
        self.up_dw = nn.Conv2DTranspose(16, 16, 2, stride=2, groups=16)
        self.fuse = ConvBN(16 + 8, 16)
        self.head = nn.Conv2D(16, classes, 1)

    def forward(self, x):
        f1 = self.e1(x)
        f2 = self.e2(f1)
        f3 = self.e3(f2)
        u = self.up(f3) + F.interpolate(f3[:, :16], scale_factor=2, mode="nearest")
        u = self.up_dw(u)
        u = self.fuse(paddle.concat([u, f1], axis=1))
        y = self.head(u)
        a = F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False)
        b = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)
        return a, b


add("segnet", "segmentation", SegNet, [("x", [None, 3, 32, 32], "float32")], image_inputs(3, 32, 32))


# ---------------------------------------------------------------------------------------------
# PP-OCR DB detection: backbone, DB-FPN (nearest upsampling, add, concat), DB head
# (conv-bn-relu, two transposed convolutions, sigmoid)

class DBDet(nn.Layer):
    def __init__(self, c=16):
        super().__init__()
        self.backbone = Backbone()
        chans = (8, 16, 24, 32)
        self.ins = nn.LayerList([nn.Conv2D(ch, c, 1, bias_attr=False) for ch in chans])
        self.ps = nn.LayerList([nn.Conv2D(c, c // 4, 3, padding=1, bias_attr=False) for _ in chans])
        self.h1 = ConvBN(c, c // 4, 3)
        self.h2 = nn.Conv2DTranspose(c // 4, c // 4, 2, stride=2)
        self.bn2 = nn.BatchNorm2D(c // 4)
        self.h3 = nn.Conv2DTranspose(c // 4, 1, 2, stride=2)

    def forward(self, x):
        c2, c3, c4, c5 = self.backbone(x)
        in2, in3, in4, in5 = [m(f) for m, f in zip(self.ins, (c2, c3, c4, c5))]
        out4 = in4 + F.upsample(in5, scale_factor=2, mode="nearest")
        out3 = in3 + F.upsample(out4, scale_factor=2, mode="nearest")
        out2 = in2 + F.upsample(out3, scale_factor=2, mode="nearest")
        p5 = F.upsample(self.ps[3](in5), scale_factor=8, mode="nearest")
        p4 = F.upsample(self.ps[2](out4), scale_factor=4, mode="nearest")
        p3 = F.upsample(self.ps[1](out3), scale_factor=2, mode="nearest")
        p2 = self.ps[0](out2)
        fuse = paddle.concat([p5, p4, p3, p2], axis=1)
        y = self.h1(fuse)
        y = F.relu(self.bn2(self.h2(y)))
        return F.sigmoid(self.h3(y))


add("ppocr_det_db", "ppocr", DBDet, [("x", [None, 3, 64, 64], "float32")], image_inputs(3, 64, 64), prefix="inference")


# ---------------------------------------------------------------------------------------------
# PP-OCR SVTR recognition: conv stem (hardswish), attention mixing blocks, height pooling,
# CTC head

class Attention(nn.Layer):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        n, c = x.shape[1], x.shape[2]
        qkv = self.qkv(x).reshape((0, -1, 3, self.heads, c // self.heads)).transpose((2, 0, 3, 1, 4))
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = F.softmax(q.matmul(k.transpose((0, 1, 3, 2))), axis=-1)
        return self.proj((attn.matmul(v)).transpose((0, 2, 1, 3)).reshape((0, -1, c)))


class Block(nn.Layer):
    def __init__(self, dim, heads):
        super().__init__()
        self.n1 = nn.LayerNorm(dim, epsilon=1e-6)
        self.attn = Attention(dim, heads)
        self.n2 = nn.LayerNorm(dim, epsilon=1e-6)
        self.fc1 = nn.Linear(dim, dim * 2)
        self.fc2 = nn.Linear(dim * 2, dim)

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.fc2(F.gelu(self.fc1(self.n2(x))))


class SVTRRec(nn.Layer):
    def __init__(self, dim=32, classes=30):
        super().__init__()
        self.stem = nn.Sequential(ConvBN(3, 16, 3, 2, act="hardswish"), ConvBN(16, dim, 3, 2, act="hardswish"))
        self.pos = self.create_parameter([1, 8 * 16, dim], default_initializer=nn.initializer.Normal(0, 0.02))
        self.blocks = nn.LayerList([Block(dim, 4) for _ in range(2)])
        self.norm = nn.LayerNorm(dim, epsilon=1e-6)
        self.pool = nn.AdaptiveAvgPool2D((1, 16))
        self.fc = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.stem(x)  # N, C, 8, 16
        n, c, h, w = x.shape
        x = x.flatten(2).transpose((0, 2, 1)) + self.pos
        for b in self.blocks:
            x = b(x)
        x = self.norm(x).transpose((0, 2, 1)).reshape((0, c, 8, 16))
        x = self.pool(x).squeeze(2).transpose((0, 2, 1))
        return F.softmax(self.fc(F.hardswish(x)), axis=2)


add("ppocr_rec_svtr", "ppocr", SVTRRec, [("x", [None, 3, 32, 64], "float32")], image_inputs(3, 32, 64), prefix="inference")


# ---------------------------------------------------------------------------------------------
# detection post-processing ops the way PaddleDetection emits them

def multiclass_nms3(bboxes, scores, score_threshold=0.3, nms_top_k=100, keep_top_k=20, nms_threshold=0.5,
                    normalized=False, nms_eta=1.0, background_label=-1):
    if paddle.in_dynamic_mode() or paddle.framework.in_pir_mode():
        out, index, rois_num = paddle._C_ops.multiclass_nms3(bboxes, scores, None, score_threshold, nms_top_k, keep_top_k,
                                                             nms_threshold, normalized, nms_eta, background_label)
        return out, rois_num
    from paddle.base.layer_helper import LayerHelper

    helper = LayerHelper("multiclass_nms3")
    out = helper.create_variable_for_type_inference(dtype=bboxes.dtype)
    index = helper.create_variable_for_type_inference(dtype="int32")
    rois_num = helper.create_variable_for_type_inference(dtype="int32")
    helper.append_op(
        type="multiclass_nms3",
        inputs={"BBoxes": bboxes, "Scores": scores},
        attrs={"background_label": background_label, "score_threshold": score_threshold, "nms_top_k": nms_top_k,
               "nms_threshold": nms_threshold, "keep_top_k": keep_top_k, "nms_eta": nms_eta, "normalized": normalized},
        outputs={"Out": out, "Index": index, "NmsRoisNum": rois_num},
    )
    return out, rois_num


class ESE(nn.Layer):
    def __init__(self, c):
        super().__init__()
        self.fc = nn.Conv2D(c, c, 1)

    def forward(self, x):
        return x * F.hardsigmoid(self.fc(F.adaptive_avg_pool2d(x, 1)))


class RepVgg(nn.Layer):
    def __init__(self, c):
        super().__init__()
        self.a = ConvBN(c, c, 3, act=None)
        self.b = ConvBN(c, c, 1, act=None)

    def forward(self, x):
        return F.relu(self.a(x) + self.b(x))


class PPYOLOE(nn.Layer):
    """CSP-RepResNet-style backbone (swish, RepVgg, ESE), PAN neck with SPP and nearest upsampling,
    ET-head (distribution focal regression: softmax over bins and a fixed projection conv),
    anchor points from the feature shapes, distance-to-box, multiclass_nms3."""

    def __init__(self, classes=4, reg_max=7, size=64):
        super().__init__()
        self.reg_max = reg_max
        self.classes = classes
        self.size = size
        self.stem = ConvBN(3, 16, 3, 2, act="swish")
        chans = [16, 24, 32]
        self.stages = nn.LayerList()
        cin = 16
        for c in chans:
            self.stages.append(nn.Sequential(ConvBN(cin, c, 3, 2, act="swish"), RepVgg(c), ESE(c)))
            cin = c
        self.spp_reduce = ConvBN(32, 16, 1, act="swish")
        self.spp_out = ConvBN(64, 32, 1, act="swish")
        self.lat = nn.LayerList([ConvBN(c, 16, 1, act="swish") for c in chans])
        self.fuse = nn.LayerList([ConvBN(32, 16, 3, act="swish") for _ in range(2)])
        self.cls = nn.LayerList([nn.Conv2D(16, classes, 3, padding=1) for _ in range(3)])
        self.reg = nn.LayerList([nn.Conv2D(16, 4 * (reg_max + 1), 3, padding=1) for _ in range(3)])
        self.ese = nn.LayerList([ESE(16) for _ in range(3)])
        proj = paddle.linspace(0, reg_max, reg_max + 1).reshape([1, reg_max + 1, 1, 1])
        self.proj_conv = nn.Conv2D(reg_max + 1, 1, 1, bias_attr=False)
        self.proj_conv.weight.set_value(proj)
        self.proj_conv.weight.stop_gradient = True

    def forward(self, x, scale_factor):
        x = self.stem(x)
        feats = []
        for s in self.stages:
            x = s(x)
            feats.append(x)
        c3, c4, c5 = feats  # strides 4, 8, 16
        y = self.spp_reduce(c5)
        y = paddle.concat([y] + [F.max_pool2d(y, k, 1, k // 2) for k in (3, 5, 7)], axis=1)
        c5 = self.spp_out(y)
        p5 = self.lat[2](c5)
        p4 = self.fuse[0](paddle.concat([self.lat[1](c4), F.interpolate(p5, scale_factor=2.0, mode="nearest")], axis=1))
        p3 = self.fuse[1](paddle.concat([self.lat[0](c3), F.interpolate(p4, scale_factor=2.0, mode="nearest")], axis=1))
        scores, dists, anchors, strides = [], [], [], []
        for i, (f, stride) in enumerate(zip((p3, p4, p5), (4, 8, 16))):
            b, _, h, w = f.shape
            a = self.ese[i](f)
            cls = F.sigmoid(self.cls[i](a) + f[:, :1])
            reg = self.reg[i](a).reshape([-1, 4, self.reg_max + 1, h * w]).transpose([0, 2, 3, 1])
            reg = self.proj_conv(F.softmax(reg, axis=1)).squeeze(1)  # N, HW, 4
            scores.append(cls.flatten(2))
            dists.append(reg)
            sx = (paddle.arange(end=w, dtype="float32") + 0.5) * stride
            sy = (paddle.arange(end=h, dtype="float32") + 0.5) * stride
            gy, gx = paddle.meshgrid(sy, sx)
            anchors.append(paddle.stack([gx, gy], axis=-1).reshape([-1, 2]))
            strides.append(paddle.full([h * w, 1], stride, dtype="float32"))
        scores = paddle.concat(scores, axis=2)  # N, C, A
        dist = paddle.concat(dists, axis=1)  # N, A, 4
        anchor = paddle.concat(anchors, axis=0)
        stride = paddle.concat(strides, axis=0)
        lt, rb = paddle.split(dist * stride, 2, axis=-1)
        boxes = paddle.concat([anchor - lt, anchor + rb], axis=-1)
        sf = paddle.concat([scale_factor[:, ::-1], scale_factor[:, ::-1]], axis=-1).unsqueeze(1)
        boxes = boxes / sf
        return multiclass_nms3(boxes, scores, score_threshold=0.45, nms_top_k=60, keep_top_k=15, nms_threshold=0.6)


def det_inputs(size):
    def make(rng, b):
        return {"image": rng.standard_normal((b, 3, size, size)).astype("float32"),
                "scale_factor": rng.uniform(0.5, 2.0, (b, 2)).astype("float32")}
    return make


add("ppyoloe", "ppdet", PPYOLOE, [("image", [None, 3, 64, 64], "float32"), ("scale_factor", [None, 2], "float32")],
    det_inputs(64), prefix="inference")


class PPYOLOBox(nn.Layer):
    """PP-YOLO / YOLOv3 style head: two levels decoded by yolo_box, concatenated, multiclass_nms3."""

    def __init__(self, classes=3):
        super().__init__()
        self.classes = classes
        self.backbone = Backbone(chans=(8, 16, 24, 32), act="silu")
        self.heads = nn.LayerList([nn.Conv2D(24, 3 * (5 + classes), 1), nn.Conv2D(32, 3 * (5 + classes), 1)])
        self.anchors = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]]

    def forward(self, image, im_shape):
        feats = self.backbone(image)[2:]
        boxes, scores = [], []
        img = paddle.cast(im_shape, "int32")
        for f, head, anchors, ratio in zip(feats, self.heads, self.anchors, (16, 32)):
            b, s = paddle.vision.ops.yolo_box(head(f), img, anchors, self.classes, conf_thresh=0.01,
                                              downsample_ratio=ratio, clip_bbox=True, scale_x_y=1.05)
            boxes.append(b)
            scores.append(s.transpose([0, 2, 1]))
        return multiclass_nms3(paddle.concat(boxes, axis=1), paddle.concat(scores, axis=2), score_threshold=0.05,
                               nms_top_k=50, keep_top_k=10, nms_threshold=0.45)


def yolo_inputs(rng, b):
    return {"image": rng.standard_normal((b, 3, 64, 64)).astype("float32"),
            "im_shape": np.tile(np.array([[64.0, 64.0]], dtype="float32"), (b, 1)) * rng.uniform(1, 4, (b, 1)).astype("float32")}


add("ppyolo_yolo_box", "ppdet", PPYOLOBox, [("image", [None, 3, 64, 64], "float32"), ("im_shape", [None, 2], "float32")],
    yolo_inputs, prefix="inference")


# ---------------------------------------------------------------------------------------------
# PP-LiteSeg: backbone, SPPM (adaptive pools 1/2/4 + bilinear upsampling), UAFM spatial
# attention (channel mean/max, sigmoid), seg head, bilinear resize to the input, argmax

class PPLiteSeg(nn.Layer):
    def __init__(self, classes=4):
        super().__init__()
        self.backbone = Backbone(act="relu")
        self.sppm = nn.LayerList([ConvBN(32, 16, 1) for _ in range(3)])
        self.sppm_out = ConvBN(16, 16, 3)
        self.lat = nn.LayerList([ConvBN(c, 16, 3) for c in (16, 24)])
        self.att = nn.LayerList([ConvBN(4, 1, 3, act=None) for _ in range(2)])
        self.head = nn.Sequential(ConvBN(16, 16, 3), nn.Conv2D(16, classes, 1))

    def forward(self, x):
        _, c3, c4, c5 = self.backbone(x)
        size5 = c5.shape[2:]
        ctx = None
        for bin_size, conv in zip((1, 2, 4), self.sppm):
            y = F.interpolate(conv(F.adaptive_avg_pool2d(c5, bin_size)), size5, mode="bilinear", align_corners=False)
            ctx = y if ctx is None else ctx + y
        high = self.sppm_out(ctx)
        for low_feat, lat, att in ((c4, self.lat[1], self.att[1]), (c3, self.lat[0], self.att[0])):
            low = lat(low_feat)
            up = F.interpolate(high, low.shape[2:], mode="bilinear")
            a = paddle.concat([paddle.mean(up, axis=1, keepdim=True), paddle.max(up, axis=1, keepdim=True),
                               paddle.mean(low, axis=1, keepdim=True), paddle.max(low, axis=1, keepdim=True)], axis=1)
            a = F.sigmoid(att(a))
            high = up * a + low * (1 - a)
        logit = F.interpolate(self.head(high), x.shape[2:], mode="bilinear", align_corners=False)
        return paddle.argmax(logit, axis=1, keepdim=True, dtype="int32"), F.softmax(logit, axis=1)


add("pp_liteseg", "ppseg", PPLiteSeg, [("x", [None, 3, 64, 64], "float32")], image_inputs(3, 64, 64), prefix="inference")


# ---------------------------------------------------------------------------------------------
# paddlenlp ErnieModel / BertModel: small random configs, exported as they come

def token_inputs(vocab):
    def make(rng, b):
        seq = 9 if b == 1 else 6  # the sequence dim is dynamic: each case its own length
        ids = rng.randint(1, vocab, (b, seq)).astype("int64")
        return {"input_ids": ids, "token_type_ids": (rng.rand(b, seq) > 0.5).astype("int64")}
    return make


class NlpWrap(nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, token_type_ids):
        seq, pooled = self.model(input_ids, token_type_ids=token_type_ids)[:2]
        return seq, pooled


def ernie():
    from paddlenlp.transformers import ErnieConfig, ErnieModel

    cfg = ErnieConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return NlpWrap(ErnieModel(cfg))


def bert():
    from paddlenlp.transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return NlpWrap(BertModel(cfg))


NLP_SPECS = [("input_ids", [None, None], "int64"), ("token_type_ids", [None, None], "int64")]
add("paddlenlp_ernie", "nlp", ernie, NLP_SPECS, token_inputs(120))
add("paddlenlp_bert", "nlp", bert, NLP_SPECS, token_inputs(120))


# ---------------------------------------------------------------------------------------------
# Indexing, selection and padding ops of PaddleOCR / PaddleDetection / PaddleSeg / PaddleNLP
# exports (gather, gather_nd, index_select, where, top_k_v2 in both of Paddle's sort paths,
# tile, roll, clip, one_hot_v2, logical ops, pad3d in its four modes, pad)

class TensorOps(nn.Layer):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x, idx):
        h = self.lin(x)                                   # [B, 6, 8]
        i0 = idx[0]                                       # [3], values in [0, 6)
        g = paddle.gather(h, i0, axis=1)
        s = paddle.index_select(h, i0, axis=1)
        nd = paddle.gather_nd(h[0], idx[:, 0:1])          # [B, 8]
        w = paddle.where(h > 0, h, 0.1 * h)
        tv, ti = paddle.topk(h, k=3, axis=-1)             # nth_element + sort path
        lv, li = paddle.topk(h, k=2, axis=1, largest=False)
        uv, ui = paddle.topk(h, k=3, sorted=False)
        wide = paddle.tile(h.reshape([-1, 48]), [1, 2])   # [B, 96]: repeated values (ties)
        pv, pi = paddle.topk(wide, k=1)                   # partial_sort path (k * 64 < 96)
        t = paddle.tile(h[:, :2], [1, 2, 1])
        r = paddle.roll(h, shifts=[1, -2], axis=[1, 2])
        r2 = paddle.roll(h, 3)
        c = paddle.clip(h, -0.5, 0.7)
        oh = F.one_hot(idx, 6)
        a, b = h > 0, h < 0.5
        logic = (paddle.logical_and(a, b).astype("float32") + 2 * paddle.logical_or(a, b).astype("float32")
                 + 4 * paddle.logical_not(a).astype("float32") + 8 * paddle.logical_xor(a, b).astype("float32"))
        img = h.reshape([-1, 2, 3, 8])
        p1 = F.pad(img, [1, 2, 0, 1], mode="reflect")
        p2 = F.pad(img, [2, 1, 1, 1], mode="replicate")
        p3 = F.pad(img, [1, 1, 2, 0], mode="circular")
        p4 = F.pad(img, [1, 0, 0, 2], mode="constant", value=0.25)
        p5 = F.pad(h, [0, 0, 1, 2, 0, 1], mode="constant", value=-0.5)
        return g, s, nd, w, tv, ti, lv, li, uv, ui, pv, pi, t, r, r2, c, oh, logic, p1, p2, p3, p4, p5


def tensor_ops_inputs(rng, b):
    return {"x": rng.standard_normal((b, 6, 8)).astype("float32"), "idx": rng.randint(0, 6, (b, 3)).astype("int64")}


add("tensor_ops", "ops", TensorOps, [("x", [None, 6, 8], "float32"), ("idx", [None, 3], "int64")], tensor_ops_inputs)


class InterpOps(nn.Layer):
    """bicubic_interp_v2 and linear_interp_v2 (align_corners, align_mode 0 / 1, sizes and scales)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)

    def forward(self, x):
        h = self.conv(x)                                                   # [B, 4, 10, 12]
        c1 = F.interpolate(h, size=[17, 9], mode="bicubic")
        c2 = F.interpolate(h, scale_factor=2.5, mode="bicubic", align_corners=True)
        c3 = F.interpolate(h, size=[7, 20], mode="bicubic", align_corners=True)
        line = h.reshape([-1, 4, 120])
        l1 = F.interpolate(line, size=[50], mode="linear", align_mode=1, data_format="NCW")
        l2 = F.interpolate(line, scale_factor=1.7, mode="linear", align_mode=0, data_format="NCW")
        l3 = F.interpolate(line, size=[33], mode="linear", align_corners=True, data_format="NCW")
        return c1, c2, c3, l1, l2, l3


add("interp_ops", "ops", InterpOps, [("x", [None, 3, 10, 12], "float32")], image_inputs(3, 10, 12))


class DetOps(nn.Layer):
    """SSD-style anchors (prior_box, both prior orders, flip, clip, steps) and scatter (overwrite
    and accumulate) as PaddleDetection's SSD / FCOS heads export them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, stride=2, padding=1)

    def forward(self, image, rows):
        feat = self.conv(image)                                              # [B, 8, 16, 16]
        b1, v1 = paddle.vision.ops.prior_box(feat, image, min_sizes=[8.0, 16.0], max_sizes=[12.0, 24.0],
                                             aspect_ratios=[2.0, 3.0], flip=True, clip=True)
        b2, v2 = paddle.vision.ops.prior_box(feat, image, min_sizes=[10.0], max_sizes=[20.0], aspect_ratios=[2.0],
                                             variance=[0.1, 0.1, 0.2, 0.2], steps=[4.0, 4.0], offset=0.25,
                                             min_max_aspect_ratios_order=True)
        b3, v3 = paddle.vision.ops.prior_box(feat, image, min_sizes=[20.0], aspect_ratios=[1.0, 0.5])
        table = feat.mean(axis=[2, 3]).transpose([1, 0])                     # [8, B]
        upd = paddle.ones_like(table[:3]) * rows[:3].astype("float32").unsqueeze(1)
        s1 = paddle.scatter(table, rows[:3], upd)                            # overwrite (repeated ids)
        s2 = paddle.scatter(table, rows[:3], upd, overwrite=False)           # accumulate
        return b1, v1, b2, v2, b3, v3, s1, s2


def det_ops_inputs(rng, b):
    return {"image": rng.standard_normal((b, 3, 32, 32)).astype("float32"),
            "rows": np.array([5, 1, 5, 0], dtype="int64")}


add("det_ops", "ops", DetOps, [("image", [None, 3, 32, 32], "float32"), ("rows", [4], "int64")], det_ops_inputs)


class Interp3dNhwcOps(nn.Layer):
    """trilinear_interp_v2 (NCDHW and NDHWC; sizes, per-dim scales, align_corners, align_mode 1),
    nearest_interp_v2 on 5-D input, and the channel-last 2-D / 1-D resizes (bilinear, nearest,
    bicubic in NHWC; linear in NWC) that video and some PaddleSeg / PaddleDetection exports use."""

    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([1, 3, 1, 1, 1])

    def forward(self, x):
        h = x * self.w                                                     # [B, 3, 4, 6, 5]
        t1 = F.interpolate(h, size=[6, 9, 7], mode="trilinear")
        t2 = F.interpolate(h, scale_factor=[1.5, 2.0, 1.7], mode="trilinear", align_corners=True)
        t3 = F.interpolate(h, size=[3, 4, 11], mode="trilinear", align_mode=1)
        hc = h.transpose([0, 2, 3, 4, 1])                                  # [B, 4, 6, 5, 3]
        t4 = F.interpolate(hc, size=[5, 8, 8], mode="trilinear", data_format="NDHWC")
        t5 = F.interpolate(h, scale_factor=2, mode="nearest")
        mc = h.mean(axis=2).transpose([0, 2, 3, 1])                        # [B, 6, 5, 3]
        n1 = F.interpolate(mc, size=[11, 7], mode="bilinear", data_format="NHWC")
        n2 = F.interpolate(mc, scale_factor=2, mode="nearest", data_format="NHWC")
        n3 = F.interpolate(mc, size=[9, 13], mode="bicubic", align_corners=True, data_format="NHWC")
        line = mc.reshape([-1, 30, 3])                                     # [B, 30, 3] (NWC)
        l1 = F.interpolate(line, size=[45], mode="linear", data_format="NWC")
        return t1, t2, t3, t4, t5, n1, n2, n3, l1


add("interp3d_nhwc_ops", "ops", Interp3dNhwcOps, [("x", [None, 3, 4, 6, 5], "float32")],
    lambda rng, b: {"x": rng.standard_normal((b, 3, 4, 6, 5)).astype("float32")})


class Conv3dOps(nn.Layer):
    """conv3d (video / medical nets): bias, stride 2, groups, dilation, SAME padding and six
    explicit paddings."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv3D(3, 8, 3, padding=1)
        self.c2 = nn.Conv3D(8, 8, 3, stride=2, padding=[1, 0, 1, 1, 0, 1], groups=2, bias_attr=False)
        self.c3 = nn.Conv3D(8, 4, [1, 3, 3], dilation=[1, 2, 1], padding="SAME")
        self.c4 = nn.Conv3D(8, 6, 2, stride=[1, 2, 2], padding="VALID")

    def forward(self, x):
        h = F.relu(self.c1(x))                                             # [B, 8, 4, 6, 5]
        return self.c2(h), self.c3(h), self.c4(h)


add("conv3d_ops", "ops", Conv3dOps, [("x", [None, 3, 4, 6, 5], "float32")],
    lambda rng, b: {"x": rng.standard_normal((b, 3, 4, 6, 5)).astype("float32")})


class MaskedSelectOps(nn.Layer):
    """masked_select (output length from the mask's values): a full mask and one broadcast over
    the channels, float32 and int64 data."""

    def __init__(self):
        super().__init__()
        self.scale = self.create_parameter([1, 3, 1, 1])

    def forward(self, x):
        h = x * self.scale                                                 # [B, 3, 4, 5]
        a = paddle.masked_select(h, h > 0.3)
        b = paddle.masked_select(h, h.mean(axis=1, keepdim=True) > 0.0)    # mask [B, 1, 4, 5]
        c = paddle.masked_select(paddle.cast(h * 10.0, "int64"), h < -0.5)
        return a, b, c


add("masked_select_ops", "ops", MaskedSelectOps, [("x", [None, 3, 4, 5], "float32")], image_inputs(3, 4, 5))
