"""akamaster/pytorch_resnet_cifar10's CIFAR ResNets, re-written for the tests from the
repository's ``resnet.py`` (it is not an installable package).

He et al.'s option A: where a block halves the map and doubles the channels, the shortcut takes
every second pixel and pads the channels with zeros on both sides. Module names are the
published files': ``conv1``, ``bn1``, ``layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2}``, ``linear``.
"""

from conftest import parity_import

torch = parity_import("torch")
F = torch.nn.functional


class OptionABlock(torch.nn.Module):
    def __init__(self, in_channels, channels, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(channels)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(channels)
        self.pad = (channels - in_channels) // 2 if stride > 1 else None

    def forward(self, x):
        branch = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x
        if self.pad is not None:
            shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(branch + shortcut)


class AkamasterResNet(torch.nn.Module):
    """ResNet-``depth`` (6n + 2) for CIFAR: 16, 32, 64 channels, n blocks a stage."""

    def __init__(self, depth, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = torch.nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(16)
        channels = 16
        for stage, (width, stride) in enumerate(((16, 1), (32, 2), (64, 2)), 1):
            blocks = []
            for i in range(n):
                blocks.append(OptionABlock(channels, width, stride if i == 0 else 1))
                channels = width
            setattr(self, f"layer{stage}", torch.nn.Sequential(*blocks))
        self.linear = torch.nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(x.mean(dim=(2, 3)))
