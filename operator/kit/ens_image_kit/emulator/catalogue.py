"""The public images DescribeImageInfos lists: a fixed, realistic catalogue."""

from __future__ import annotations

from typing import Any

# (ImageId, OSName, OSType, ImageVersion, size in GB)
_PUBLIC = [
    ("centos_7_9_x64_20G_alibase_20240628", "CentOS 7.9 64位", "linux", "7.9", 20),
    ("centos_8_2_x64_20G_alibase_20210712", "CentOS 8.2 64位", "linux", "8.2", 20),
    ("centos_8_5_x64_20G_alibase_20220428", "CentOS 8.5 64位", "linux", "8.5", 20),
    ("ubuntu_20_04_x64_20G_alibase_20240819", "Ubuntu 20.04 64位", "linux", "20.04", 20),
    ("ubuntu_22_04_x64_20G_alibase_20240926", "Ubuntu 22.04 64位", "linux", "22.04", 20),
    ("ubuntu_24_04_x64_20G_alibase_20241115", "Ubuntu 24.04 64位", "linux", "24.04", 20),
    ("debian_11_11_x64_20G_alibase_20240819", "Debian 11.11 64位", "linux", "11.11", 20),
    ("debian_12_7_x64_20G_alibase_20240927", "Debian 12.7 64位", "linux", "12.7", 20),
    ("alinux_3_x64_20G_alibase_20240819", "Alibaba Cloud Linux 3.2104 64位", "linux", "3.2104", 20),
    ("rockylinux_9_4_x64_20G_alibase_20240709", "Rocky Linux 9.4 64位", "linux", "9.4", 20),
    (
        "win2019_1809_x64_dtc_zh-cn_40G_alibase_20240913",
        "Windows Server 2019 数据中心版 64位中文版",
        "windows",
        "2019",
        40,
    ),
    (
        "win2022_21H2_x64_dtc_en-us_40G_alibase_20240913",
        "Windows Server 2022 Datacenter 64-bit English",
        "windows",
        "2022",
        40,
    ),
]


def public_images(os_type: str | None) -> list[dict[str, Any]]:
    """The catalogue in DescribeImageInfos' shape, optionally only one OS type."""
    wanted = os_type.lower() if os_type else None
    return [
        {
            "ImageId": image_id,
            "OSName": os_name,
            "OSType": kind,
            "ImageVersion": version,
            "ImageSize": str(size),
            "ComputeType": "ens_vm",
            "Description": f"{os_name} public image",
            "ImageOwnerAlias": "system",
            "RegionId": "",
            "DiskDeviceMappings": {
                "DiskDeviceMapping": [
                    {"Format": "qcow2", "Size": str(size), "Type": "System", "imageId": image_id}
                ]
            },
        }
        for image_id, os_name, kind, version, size in _PUBLIC
        if wanted is None or kind == wanted
    ]


def is_public_image(image_id: str) -> bool:
    """Whether the id is one of the catalogue's public images (which cannot be shared)."""
    return any(image_id == public_id for public_id, *_ in _PUBLIC)
