"""Messages of uploads and of file and image fields, in Chinese and English.

Each says what is wrong and what to do. Registered here (not in engine.messages) so that the file
storage and the field types own their words.
"""

from engine.i18n import register

_KINDS_ZH = "PNG/JPEG/GIF/WEBP 图片、PDF、Word/Excel/PowerPoint(docx/xlsx/pptx)、UTF-8 文本/CSV 或 MP4 视频"
_KINDS_EN = (
    "PNG/JPEG/GIF/WEBP images, PDF, Word/Excel/PowerPoint (docx/xlsx/pptx), UTF-8 text/CSV or MP4 video"
)

register(
    {
        # --- storing an upload
        "file.too_large": {
            "zh": "文件超过 {max_mb} MB 的上限。请压缩或拆分后再上传。",
            "en": "The file is larger than the {max_mb} MB limit. Compress or split it, then upload again.",
        },
        "file.storage_full": {
            "zh": "文件存储空间已满,文件未保存。请稍后重试,并请管理员清理或扩容文件目录。",
            "en": "The file storage is full; the file was not kept. Try again later and ask the "
            "administrator to free or add space in the files folder.",
        },
        "file.empty": {
            "zh": "文件是空的。请重新选择文件后上传。",
            "en": "The file is empty. Choose the file again and upload it.",
        },
        "file.executable": {
            "zh": "程序和脚本不能上传(无论文件名是什么)。请上传文档、图片或文本。",
            "en": (
                "Programs and scripts cannot be uploaded, whatever their name. "
                "Upload a document, image or text."
            ),
        },
        "file.macros": {
            "zh": "含宏的 Office 文件不能上传。请另存为不含宏的 docx/xlsx/pptx 后再上传。",
            "en": (
                "Office files with macros cannot be uploaded. "
                "Save it as docx/xlsx/pptx without macros and upload that."
            ),
        },
        "file.unsupported_type": {
            "zh": f"无法接受此文件:类型按内容判断,不看扩展名。请上传{_KINDS_ZH}(文本请存为 UTF-8)。",
            "en": (
                "This file cannot be accepted: its type is judged by its content, not its name. "
                f"Upload {_KINDS_EN} (save text as UTF-8)."
            ),
        },
        "file.not_found": {
            "zh": "文件 {id} 不存在(可能已被删除)。请重新上传。",
            "en": "File {id} does not exist (it may have been deleted). Upload it again.",
        },
        # --- file and image fields
        "field.file_type": {
            "zh": "{name} 的类型({mime})不被此字段接受。请上传以下类型的文件:{accept}。",
            "en": (
                "{name} is of type {mime}, which this field does not accept. Upload a file of type: {accept}."
            ),
        },
        "field.not_image": {
            "zh": "{name} 不是图片(内容为 {mime})。请上传 PNG、JPEG、GIF 或 WEBP 图片。",
            "en": "{name} is not an image (its content is {mime}). Upload a PNG, JPEG, GIF or WEBP image.",
        },
        "field.too_many_files": {
            "zh": "最多 {max} 个文件(当前 {count} 个)。请删除多余的文件。",
            "en": "At most {max} files (now {count}). Remove the extra files.",
        },
    }
)
