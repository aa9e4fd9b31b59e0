"""Compare rtmo.cpp with a PyTorch RTMO module by module: forward hooks vs model.forward().

  /usr/bin/python3 examples/verify_with_pytorch.py CHECKPOINT.pth MODEL.rtmo IMAGE
(MODEL.rtmo converted from CHECKPOINT.pth; needs python3-torch. Use a PNG: same pixels.)"""
import os, sys
import numpy as np, torch
import rtmo
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))
import model as reference  # the PyTorch reference: state_dict names are mmpose's

ckpt, weights, image = sys.argv[1:4]
net, _ = reference.load_checkpoint(ckpt)
ours, img = rtmo.Model(weights), rtmo.load_image(image)
# PyTorch module name -> the rtmo dump name of its output (most names are the same).
heads = [("out_cls", "cls_score"), ("out_bbox", "bbox_pred"), ("out_kpt_vis", "kpt_vis"),
         ("out_pose", "pose_feat")]
rename = {f"head.head_module.{a}.{l}": f"head.{b}.{l}" for l in (0, 1) for a, b in heads}
names = set(ours.tensor_names())
torch_out = {}
for name, module in net.named_modules():
    def hook(mod, inputs, out, name=rename.get(name, name)):
        outs = out if isinstance(out, list) else [out]  # neck.projector: one map per level
        if name == "neck.encoder.0":  # tokens [1, h*w, C] -> [1, C, h*w] (reshaped below)
            outs = [out.transpose(1, 2)]
        for i, o in enumerate(outs):
            torch_out[f"neck.out.{i}" if name == "neck.projector" else name] = o.detach().numpy()
    if rename.get(name, name) in names or name == "neck.projector":
        module.register_forward_hook(hook)
x, matrix = ours.letterbox(img)  # the exact network input rtmo.cpp uses, [1,3,H,W] float32
with torch.no_grad():
    net(torch.from_numpy(x))
cpp = ours.forward(img, taps=sorted(torch_out))
print(f"{'module':22} {'shape':>18} {'max |diff|':>11} {'median':>9} {'max |ref|':>9}")
for name, a in cpp.items():
    ref = torch_out[name].reshape(a.shape); d = np.abs(a.astype(np.float64) - ref)
    print(f"{name:22} {str(a.shape):>18} {d.max():11.3g} {np.median(d):9.3g} "
          f"{np.abs(ref).max():9.3g}")
