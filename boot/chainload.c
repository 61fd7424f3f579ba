/* Starting the configured loader after launch. Runs from the original image (the copy is
 * hidden by then) before gnu-efi's library was initialized there, so it uses nothing but the
 * system table it is given: the loader's device path is built by hand (UEFI 2.x, 10.3.5.4
 * "File Path Media Device Path"). */
#include "boot/boot.h"

static EFI_STATUS start_path(EFI_HANDLE image, EFI_SYSTEM_TABLE *st, EFI_HANDLE device,
                             const CHAR16 *path)
{
    static EFI_GUID dp_guid = EFI_DEVICE_PATH_PROTOCOL_GUID;
    EFI_BOOT_SERVICES *bs = st->BootServices;
    EFI_DEVICE_PATH *devpath = 0;
    if (EFI_ERROR(bs->HandleProtocol(device, &dp_guid, (void **)&devpath)) || !devpath)
        return EFI_NOT_FOUND;
    UINTN dev_len = 0;
    for (const EFI_DEVICE_PATH *n = devpath;;
         n = (const void *)((const UINT8 *)n + (n->Length[0] | n->Length[1] << 8))) {
        UINTN l = n->Length[0] | n->Length[1] << 8;
        if (l < 4)
            return EFI_INVALID_PARAMETER;
        if (n->Type == END_DEVICE_PATH_TYPE && n->SubType == END_ENTIRE_DEVICE_PATH_SUBTYPE)
            break;
        dev_len += l;
    }
    UINTN chars = 0;
    while (path[chars])
        chars++;
    UINTN node_len = 4 + (chars + 1) * sizeof(CHAR16);
    UINT8 *buf = 0;
    if (EFI_ERROR(bs->AllocatePool(EfiLoaderData, dev_len + node_len + 4, (void **)&buf)))
        return EFI_OUT_OF_RESOURCES;
    const UINT8 *src = (const UINT8 *)devpath;
    for (UINTN i = 0; i < dev_len; i++)
        buf[i] = src[i];
    UINT8 *node = buf + dev_len;
    node[0] = MEDIA_DEVICE_PATH;
    node[1] = MEDIA_FILEPATH_DP;
    node[2] = (UINT8)node_len;
    node[3] = (UINT8)(node_len >> 8);
    CHAR16 *name = (CHAR16 *)(node + 4);
    for (UINTN i = 0; i <= chars; i++)
        name[i] = path[i];
    UINT8 *end = node + node_len;
    end[0] = END_DEVICE_PATH_TYPE;
    end[1] = END_ENTIRE_DEVICE_PATH_SUBTYPE;
    end[2] = 4;
    end[3] = 0;
    EFI_HANDLE child = 0;
    EFI_STATUS s = bs->LoadImage(FALSE, image, (EFI_DEVICE_PATH *)buf, 0, 0, &child);
    bs->FreePool(buf);
    if (EFI_ERROR(s))
        return s;
    return bs->StartImage(child, 0, 0);
}

EFI_STATUS boot_chainload(EFI_HANDLE image, EFI_SYSTEM_TABLE *st, const CHAR16 *path)
{
    static EFI_GUID li_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;
    EFI_LOADED_IMAGE *li = 0;
    if (EFI_ERROR(st->BootServices->HandleProtocol(image, &li_guid, (void **)&li)) || !li)
        return EFI_LOAD_ERROR;
    return start_path(image, st, li->DeviceHandle, path);
}
