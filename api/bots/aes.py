"""AES-CBC with PKCS#7 padding, as WeCom and Feishu encrypt callbacks (``cryptography``).

Examples
--------
>>> key = bytes(range(32))
>>> decrypt(key, key[:16], encrypt(key, key[:16], b"hello", 32), 32)
b'hello'
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class PaddingError(ValueError):
    """The plaintext's padding is not PKCS#7 for the block size: a wrong key or a forgery."""


def pad(data: bytes, block: int) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


def unpad(data: bytes, block: int) -> bytes:
    if not data:
        raise PaddingError("empty plaintext")
    n = data[-1]
    if not 1 <= n <= block or data[-n:] != bytes([n]) * n:
        raise PaddingError("bad padding")
    return data[:-n]


def encrypt(key: bytes, iv: bytes, plaintext: bytes, block: int = 16) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(pad(plaintext, block)) + encryptor.finalize()


def decrypt(key: bytes, iv: bytes, ciphertext: bytes, block: int = 16) -> bytes:
    if not ciphertext or len(ciphertext) % 16:
        raise PaddingError("ciphertext is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return unpad(decryptor.update(ciphertext) + decryptor.finalize(), block)
