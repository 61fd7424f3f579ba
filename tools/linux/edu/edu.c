// SPDX-License-Identifier: GPL-2.0
/* edu: a Linux PCI driver for the edu device (1234:11e8), QEMU's teaching device and the
 * device Trapvisor emulates. It runs unchanged on both, which is the point: the same driver
 * and test program judge QEMU's device (the reference) and Trapvisor's.
 *
 * What it sets up: the device enabled with BAR0 mapped; one interrupt vector, MSI when the
 * device offers it, else the legacy INTx line (shared); bus mastering with a 28-bit DMA mask
 * (the device truncates DMA addresses to 28 bits) and one coherent 4 KiB buffer.
 *
 * What it exposes:
 *   sysfs (on the PCI device): ident, liveness (rw), factorial (rw), irq_count, irq_mode
 *   /dev/eduN: the ioctls in edu_ioctl.h (info, raise-and-wait, factorial, DMA both ways)
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "edu_ioctl.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

/* PCI_IRQ_LEGACY was renamed PCI_IRQ_INTX in Linux 6.10. */
#ifndef PCI_IRQ_INTX
#define PCI_IRQ_INTX PCI_IRQ_LEGACY
#endif

struct edu_dev {
    struct pci_dev *pdev;
    void __iomem *bar;
    int irq;
    u32 irq_mode;
    int index;
    char name[16];
    struct miscdevice misc;

    /* Serializes the operations that use the device's single factorial unit, DMA engine or
     * wait for an interrupt; plain register accesses (liveness, ident) need no lock. */
    struct mutex op_lock;

    spinlock_t irq_lock; /* protects irq_count and irq_seen against the handler */
    u64 irq_count;
    u32 irq_seen; /* interrupt-status bits acknowledged since the last clear */
    wait_queue_head_t irq_wait;

    void *dma_cpu; /* coherent buffer, EDU_DMA_BUF_SIZE bytes */
    dma_addr_t dma_handle;
};

static DEFINE_IDA(edu_ida);

/* msi=0 forces the legacy INTx line, so the fallback path can be tested on a device that
 * offers MSI (edutest --intx). */
static bool use_msi = true;
module_param_named(msi, use_msi, bool, 0444);
MODULE_PARM_DESC(msi, "use MSI when the device offers it (default 1; 0: legacy INTx)");

static u32 edu_read32(struct edu_dev *edu, unsigned int reg)
{
    return ioread32(edu->bar + reg);
}

static void edu_write32(struct edu_dev *edu, unsigned int reg, u32 val)
{
    iowrite32(val, edu->bar + reg);
}

/* The DMA registers are 64-bit and take 8-byte accesses (a 4-byte write would zero-extend). */
static void edu_write64(struct edu_dev *edu, unsigned int reg, u64 val)
{
    writeq(val, edu->bar + reg);
}

static irqreturn_t edu_irq_handler(int irq, void *data)
{
    struct edu_dev *edu = data;
    u32 status = edu_read32(edu, EDU_REG_IRQ_STATUS);

    /* Zero: not ours (INTx may be shared). All ones: the device is gone. */
    if (status == 0 || status == 0xffffffffu)
        return IRQ_NONE;
    edu_write32(edu, EDU_REG_IRQ_ACK, status);

    spin_lock(&edu->irq_lock);
    edu->irq_count++;
    edu->irq_seen |= status;
    spin_unlock(&edu->irq_lock);
    wake_up(&edu->irq_wait);
    return IRQ_HANDLED;
}

static void edu_clear_seen(struct edu_dev *edu, u32 bits)
{
    spin_lock_irq(&edu->irq_lock);
    edu->irq_seen &= ~bits;
    spin_unlock_irq(&edu->irq_lock);
}

static bool edu_seen_all(struct edu_dev *edu, u32 bits)
{
    bool all;

    spin_lock_irq(&edu->irq_lock);
    all = (edu->irq_seen & bits) == bits;
    spin_unlock_irq(&edu->irq_lock);
    return all;
}

/* Waits until the handler has acknowledged every bit in `bits`; returns the bits seen. */
static int edu_wait_irq(struct edu_dev *edu, u32 bits, unsigned int timeout_ms, u32 *seen)
{
    long left =
        wait_event_timeout(edu->irq_wait, edu_seen_all(edu, bits), msecs_to_jiffies(timeout_ms));

    spin_lock_irq(&edu->irq_lock);
    *seen = edu->irq_seen;
    spin_unlock_irq(&edu->irq_lock);
    return left ? 0 : -ETIMEDOUT;
}

static u64 edu_irq_count(struct edu_dev *edu)
{
    u64 n;

    spin_lock_irq(&edu->irq_lock);
    n = edu->irq_count;
    spin_unlock_irq(&edu->irq_lock);
    return n;
}

/* Polls a register until (value & mask) == 0, sleeping between reads. */
static int edu_poll_clear(struct edu_dev *edu, unsigned int reg, u32 mask, unsigned int timeout_ms)
{
    unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);

    for (;;) {
        u32 v = edu_read32(edu, reg);

        if (v == 0xffffffffu)
            return -ENODEV;
        if (!(v & mask))
            return 0;
        if (time_after(jiffies, deadline))
            return -ETIMEDOUT;
        usleep_range(50, 200);
    }
}

static int edu_factorial(struct edu_dev *edu, struct edu_factorial *f)
{
    unsigned int timeout = f->timeout_ms ? f->timeout_ms : 1000;
    int ret;

    mutex_lock(&edu->op_lock);
    if (f->flags & EDU_FACT_F_IRQ) {
        edu_clear_seen(edu, EDU_IRQ_FACT);
        edu_write32(edu, EDU_REG_STATUS, EDU_STATUS_IRQFACT);
        edu_write32(edu, EDU_REG_FACTORIAL, f->n);
        ret = edu_wait_irq(edu, EDU_IRQ_FACT, timeout, &f->seen);
        edu_write32(edu, EDU_REG_STATUS, 0);
    } else {
        edu_write32(edu, EDU_REG_FACTORIAL, f->n);
        f->seen = 0;
        ret = edu_poll_clear(edu, EDU_REG_STATUS, EDU_STATUS_COMPUTING, timeout);
    }
    /* QEMU's device clears COMPUTING before it raises the factorial interrupt; a model that
     * did it the other way round would still give a final result after this poll. */
    if (ret == 0)
        ret = edu_poll_clear(edu, EDU_REG_STATUS, EDU_STATUS_COMPUTING, timeout);
    if (ret == 0)
        f->result = edu_read32(edu, EDU_REG_FACTORIAL);
    mutex_unlock(&edu->op_lock);
    return ret;
}

static int edu_raise_wait(struct edu_dev *edu, struct edu_raise *r)
{
    unsigned int timeout = r->timeout_ms ? r->timeout_ms : 1000;
    int ret;

    if (r->value == 0)
        return -EINVAL;
    mutex_lock(&edu->op_lock);
    edu_clear_seen(edu, r->value);
    r->cpu = get_cpu();
    edu_write32(edu, EDU_REG_IRQ_RAISE, r->value);
    put_cpu();
    ret = edu_wait_irq(edu, r->value, timeout, &r->seen);
    r->irq_count = edu_irq_count(edu);
    mutex_unlock(&edu->op_lock);
    return ret;
}

static int edu_dma(struct edu_dev *edu, struct edu_dma *d, bool to_device)
{
    unsigned int timeout = d->timeout_ms ? d->timeout_ms : 2000;
    void __user *ubuf = u64_to_user_ptr(d->user_buf);
    u64 dev_addr = EDU_DMA_BUF_ADDR + d->dev_offset;
    u64 cmd = EDU_DMA_CMD_START;
    int ret;

    if (d->len == 0 || d->len > EDU_DMA_BUF_SIZE || d->dev_offset >= EDU_DMA_BUF_SIZE ||
        d->len > EDU_DMA_BUF_SIZE - d->dev_offset)
        return -EINVAL;

    mutex_lock(&edu->op_lock);
    if (to_device) {
        if (copy_from_user(edu->dma_cpu, ubuf, d->len)) {
            ret = -EFAULT;
            goto out;
        }
        edu_write64(edu, EDU_REG_DMA_SRC, edu->dma_handle);
        edu_write64(edu, EDU_REG_DMA_DST, dev_addr);
    } else {
        memset(edu->dma_cpu, 0, d->len);
        edu_write64(edu, EDU_REG_DMA_SRC, dev_addr);
        edu_write64(edu, EDU_REG_DMA_DST, edu->dma_handle);
        cmd |= EDU_DMA_CMD_TO_RAM;
    }
    edu_write64(edu, EDU_REG_DMA_COUNT, d->len);
    /* The coherent buffer's CPU writes must be visible before the device starts. */
    wmb();
    if (d->flags & EDU_DMA_F_IRQ) {
        edu_clear_seen(edu, EDU_IRQ_DMA);
        cmd |= EDU_DMA_CMD_IRQ;
    }
    edu_write64(edu, EDU_REG_DMA_CMD, cmd);
    if (d->flags & EDU_DMA_F_IRQ) {
        ret = edu_wait_irq(edu, EDU_IRQ_DMA, timeout, &d->seen);
    } else {
        d->seen = 0;
        ret = 0;
    }
    /* The start bit clears when the transfer is done (also after the interrupt). */
    if (ret == 0)
        ret = edu_poll_clear(edu, EDU_REG_DMA_CMD, EDU_DMA_CMD_START, timeout);
    if (ret)
        goto out;
    rmb();
    if (!to_device && copy_to_user(ubuf, edu->dma_cpu, d->len))
        ret = -EFAULT;
    d->dma_addr = edu->dma_handle;
out:
    mutex_unlock(&edu->op_lock);
    return ret;
}

static struct edu_dev *edu_from_file(struct file *file)
{
    struct miscdevice *misc = file->private_data; /* set by the misc core at open */

    return container_of(misc, struct edu_dev, misc);
}

static long edu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
    struct edu_dev *edu = edu_from_file(file);
    void __user *uarg = (void __user *)arg;
    int ret;

    switch (cmd) {
    case EDU_IOC_INFO: {
        struct edu_info info = {
            .ident = edu_read32(edu, EDU_REG_IDENT),
            .irq_mode = edu->irq_mode,
            .irq = edu->irq,
            .dma_bits = EDU_DMA_MASK_BITS,
            .irq_count = edu_irq_count(edu),
            .bar0_start = pci_resource_start(edu->pdev, 0),
            .bar0_len = pci_resource_len(edu->pdev, 0),
        };
        return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
    }
    case EDU_IOC_RAISE_WAIT: {
        struct edu_raise r;

        if (copy_from_user(&r, uarg, sizeof(r)))
            return -EFAULT;
        ret = edu_raise_wait(edu, &r);
        if (copy_to_user(uarg, &r, sizeof(r)))
            return -EFAULT;
        return ret;
    }
    case EDU_IOC_FACTORIAL: {
        struct edu_factorial f;

        if (copy_from_user(&f, uarg, sizeof(f)))
            return -EFAULT;
        ret = edu_factorial(edu, &f);
        if (copy_to_user(uarg, &f, sizeof(f)))
            return -EFAULT;
        return ret;
    }
    case EDU_IOC_DMA_TO_DEVICE:
    case EDU_IOC_DMA_FROM_DEVICE: {
        struct edu_dma d;

        if (copy_from_user(&d, uarg, sizeof(d)))
            return -EFAULT;
        ret = edu_dma(edu, &d, cmd == EDU_IOC_DMA_TO_DEVICE);
        if (copy_to_user(uarg, &d, sizeof(d)))
            return -EFAULT;
        return ret;
    }
    default:
        return -ENOTTY;
    }
}

static const struct file_operations edu_fops = {
    .owner = THIS_MODULE,
    .unlocked_ioctl = edu_ioctl,
    .compat_ioctl = compat_ptr_ioctl,
    .llseek = noop_llseek,
};

/* --- sysfs attributes on the PCI device ------------------------------------------------ */

static struct edu_dev *edu_from_dev(struct device *dev)
{
    return pci_get_drvdata(to_pci_dev(dev));
}

static ssize_t ident_show(struct device *dev, struct device_attribute *attr, char *buf)
{
    return sysfs_emit(buf, "0x%08x\n", edu_read32(edu_from_dev(dev), EDU_REG_IDENT));
}
static DEVICE_ATTR_RO(ident);

static ssize_t liveness_show(struct device *dev, struct device_attribute *attr, char *buf)
{
    return sysfs_emit(buf, "0x%08x\n", edu_read32(edu_from_dev(dev), EDU_REG_LIVENESS));
}

static ssize_t liveness_store(struct device *dev, struct device_attribute *attr, const char *buf,
                              size_t count)
{
    u32 v;
    int ret = kstrtou32(buf, 0, &v);

    if (ret)
        return ret;
    edu_write32(edu_from_dev(dev), EDU_REG_LIVENESS, v);
    return count;
}
static DEVICE_ATTR_RW(liveness);

/* Writing n computes n! (polling); reading returns the factorial register. */
static ssize_t factorial_show(struct device *dev, struct device_attribute *attr, char *buf)
{
    return sysfs_emit(buf, "%u\n", edu_read32(edu_from_dev(dev), EDU_REG_FACTORIAL));
}

static ssize_t factorial_store(struct device *dev, struct device_attribute *attr, const char *buf,
                               size_t count)
{
    struct edu_factorial f = {0};
    int ret = kstrtou32(buf, 0, &f.n);

    if (ret)
        return ret;
    ret = edu_factorial(edu_from_dev(dev), &f);
    return ret ? ret : (ssize_t)count;
}
static DEVICE_ATTR_RW(factorial);

static ssize_t irq_count_show(struct device *dev, struct device_attribute *attr, char *buf)
{
    return sysfs_emit(buf, "%llu\n", edu_irq_count(edu_from_dev(dev)));
}
static DEVICE_ATTR_RO(irq_count);

static ssize_t irq_mode_show(struct device *dev, struct device_attribute *attr, char *buf)
{
    return sysfs_emit(buf, "%s\n",
                      edu_from_dev(dev)->irq_mode == EDU_IRQ_MODE_MSI ? "msi" : "intx");
}
static DEVICE_ATTR_RO(irq_mode);

static struct attribute *edu_attrs[] = {
    &dev_attr_ident.attr,     &dev_attr_liveness.attr, &dev_attr_factorial.attr,
    &dev_attr_irq_count.attr, &dev_attr_irq_mode.attr, NULL,
};
ATTRIBUTE_GROUPS(edu);

/* --- probe / remove ----------------------------------------------------------------------- */

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
    struct edu_dev *edu;
    int ret, nvec;

    edu = devm_kzalloc(&pdev->dev, sizeof(*edu), GFP_KERNEL);
    if (!edu)
        return -ENOMEM;
    edu->pdev = pdev;
    mutex_init(&edu->op_lock);
    spin_lock_init(&edu->irq_lock);
    init_waitqueue_head(&edu->irq_wait);

    ret = pcim_enable_device(pdev);
    if (ret)
        return ret;
    /* Map BAR0 without claiming it (no pci_request_region): with CONFIG_IO_STRICT_DEVMEM, as
     * in Debian's kernel, a claimed BAR can no longer be mapped through sysfs resource0, and
     * edutest drives the registers through resource0 while this driver is bound. */
    edu->bar = pcim_iomap(pdev, 0, 0);
    if (!edu->bar)
        return -ENOMEM;

    /* The device keeps only 28 bits of a DMA address (edu.rst: "DMA mask"). */
    ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(EDU_DMA_MASK_BITS));
    if (ret) {
        dev_err(&pdev->dev, "edu: no 28-bit DMA: %d\n", ret);
        return ret;
    }
    pci_set_master(pdev);
    edu->dma_cpu = dmam_alloc_coherent(&pdev->dev, EDU_DMA_BUF_SIZE, &edu->dma_handle, GFP_KERNEL);
    if (!edu->dma_cpu)
        return -ENOMEM;

    nvec = use_msi ? pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI) : -EINVAL;
    if (nvec == 1) {
        edu->irq_mode = EDU_IRQ_MODE_MSI;
    } else {
        nvec = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_INTX);
        if (nvec != 1)
            return nvec < 0 ? nvec : -ENODEV;
        edu->irq_mode = EDU_IRQ_MODE_INTX;
    }
    edu->irq = pci_irq_vector(pdev, 0);
    ret = request_irq(edu->irq, edu_irq_handler, IRQF_SHARED, "edu", edu);
    if (ret)
        goto err_vectors;

    edu->index = ida_alloc(&edu_ida, GFP_KERNEL);
    if (edu->index < 0) {
        ret = edu->index;
        goto err_irq;
    }
    snprintf(edu->name, sizeof(edu->name), "edu%d", edu->index);
    edu->misc.minor = MISC_DYNAMIC_MINOR;
    edu->misc.name = edu->name;
    edu->misc.fops = &edu_fops;
    edu->misc.parent = &pdev->dev;
    pci_set_drvdata(pdev, edu);
    ret = misc_register(&edu->misc);
    if (ret)
        goto err_ida;

    dev_info(&pdev->dev, "edu: %s ident 0x%08x irq %d (%s) dma 0x%llx\n", edu->name,
             edu_read32(edu, EDU_REG_IDENT), edu->irq,
             edu->irq_mode == EDU_IRQ_MODE_MSI ? "msi" : "intx", (u64)edu->dma_handle);
    return 0;

err_ida:
    ida_free(&edu_ida, edu->index);
err_irq:
    free_irq(edu->irq, edu);
err_vectors:
    pci_free_irq_vectors(pdev);
    return ret;
}

static void edu_remove(struct pci_dev *pdev)
{
    struct edu_dev *edu = pci_get_drvdata(pdev);

    misc_deregister(&edu->misc);
    ida_free(&edu_ida, edu->index);
    /* No interrupt may be pending in the device once its handler is gone. */
    edu_write32(edu, EDU_REG_STATUS, 0);
    free_irq(edu->irq, edu);
    edu_write32(edu, EDU_REG_IRQ_ACK, edu_read32(edu, EDU_REG_IRQ_STATUS));
    pci_free_irq_vectors(pdev);
    pci_clear_master(pdev);
    /* BAR mapping, regions, the coherent buffer and enable are released by devres. */
}

static const struct pci_device_id edu_ids[] = {
    {PCI_DEVICE(EDU_VENDOR, EDU_DEVICE)},
    {0},
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
    .name = "edu",
    .id_table = edu_ids,
    .probe = edu_probe,
    .remove = edu_remove,
    .dev_groups = edu_groups,
};
module_pci_driver(edu_driver);

MODULE_DESCRIPTION("Driver for the edu PCI device (QEMU's and Trapvisor's)");
MODULE_AUTHOR("Trapvisor");
MODULE_LICENSE("GPL");
